// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "vivim-share",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vivim", targets: ["vivim"]),
        .library(name: "VivimClient", targets: ["VivimClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.3.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
    ],
    targets: [
        // Domain values and pure logic. No I/O.
        .target(name: "VivimCore", exclude: ["README.md"]),
        // DID keys, signatures, capsules, password hashing, share codes. swift-crypto only.
        .target(name: "VivimCrypto", dependencies: [
            "VivimCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ], exclude: ["README.md"]),
        // CRDT types, documents, state vectors, deltas, sync core. Pure.
        .target(name: "VivimCRDT", exclude: ["README.md"]),
        // Master store (PostgreSQL + embedded SQLite), per-user SQLite databases.
        .target(name: "VivimStore", dependencies: [
            "VivimCore", "VivimCrypto",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["README.md"]),
        // Publishing pipeline (issue: pipeline).
        .target(name: "VivimPipeline", dependencies: [
            "VivimCore", "VivimCrypto", "VivimStore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // P2P node: libp2p transport, Kademlia, gossipsub, storage. Depends on Core, Crypto, CRDT only.
        .target(name: "VivimNetwork", dependencies: [
            "VivimCore", "VivimCrypto", "VivimCRDT",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["README.md"]),
        // Events, metrics, aggregation, differential privacy (issue: analytics).
        .target(name: "VivimAnalytics", dependencies: ["VivimCore"]),
        // Hummingbird application.
        .target(name: "VivimServer", dependencies: [
            "VivimCore", "VivimCrypto", "VivimCRDT", "VivimStore", "VivimPipeline", "VivimNetwork", "VivimAnalytics",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ], resources: [.copy("Resources/openapi.json"), .copy("Resources/viewer")]),
        // Swift client library: HTTP client, local key store.
        .target(name: "VivimClient", dependencies: [
            "VivimCore", "VivimCrypto",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ]),
        .executableTarget(name: "vivim", dependencies: [
            "VivimServer", "VivimClient", "VivimStore", "VivimPipeline", "VivimNetwork", "VivimCRDT", "VivimCore", "VivimCrypto",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),

        // Real databases for tests (PostgreSQL from scripts/test.sh, temporary SQLite files).
        .target(name: "VivimTestSupport", dependencies: [
            "VivimStore",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "VivimCoreTests", dependencies: ["VivimCore", "VivimCrypto"]),
        .testTarget(name: "VivimCryptoTests", dependencies: ["VivimCrypto", "VivimCore"], exclude: ["interop"]),
        .testTarget(name: "VivimCRDTTests", dependencies: ["VivimCRDT"]),
        .testTarget(name: "VivimStoreTests", dependencies: [
            "VivimStore", "VivimCore", "VivimCrypto", "VivimTestSupport",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .testTarget(name: "VivimPipelineTests", dependencies: ["VivimPipeline", "VivimCore"], exclude: ["Fixtures"]),
        .testTarget(name: "VivimNetworkTests", dependencies: ["VivimNetwork", "VivimCore"], exclude: ["interop"]),
        .testTarget(name: "VivimServerTests", dependencies: [
            "VivimServer", "VivimClient", "VivimStore", "VivimCore", "VivimCrypto", "VivimTestSupport", "VivimNetwork", "VivimCRDT",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ]
)
