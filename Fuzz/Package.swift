// swift-tools-version:6.2
// libFuzzer harness for VivimNetwork's decoders (issue 5: "every decoder is fuzzed").
// Build and run (Linux, from this folder):
//   swift build -c debug -Xswiftc -sanitize=fuzzer,address --product FuzzDecoders
//   FUZZ_TARGET=kad .build/debug/FuzzDecoders corpus/kad -max_total_time=60
import PackageDescription

let package = Package(
    name: "vivim-network-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
    ],
    targets: [
        // Symlinks to ../Sources/<module>, so the fuzzed code is the shipped code.
        .target(name: "VivimCore", exclude: ["README.md"]),
        .target(name: "VivimCRDT", exclude: ["README.md"]),
        .target(name: "VivimCrypto", dependencies: [
            "VivimCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ], exclude: ["README.md"]),
        .target(name: "VivimNetwork", dependencies: [
            "VivimCore", "VivimCrypto", "VivimCRDT",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["README.md"]),
        .executableTarget(name: "FuzzDecoders", dependencies: ["VivimNetwork", "VivimCRDT"],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
)
