#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import VivimNetwork

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

func fromHex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = s.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

struct TestError: Error, CustomStringConvertible { let description: String }

/// A directory under /tmp removed when the value is deinitialised.
final class TemporaryDirectory: Sendable {
    let path: String
    init() throws {
        var template = Array("/tmp/vivim-net-test-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw TestError(description: "mkdtemp failed") }
        path = String(cString: p)
    }
    deinit {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}

func fileMode(_ path: String) throws -> UInt32 {
    var st = stat()
    guard stat(path, &st) == 0 else { throw TestError(description: "stat failed") }
    return UInt32(st.st_mode) & 0o777
}

func setFileMode(_ path: String, _ mode: UInt32) throws {
    guard chmod(path, mode_t(mode)) == 0 else { throw TestError(description: "chmod failed") }
}

func writeFile(_ path: String, _ bytes: [UInt8], mode: UInt32) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode_t(mode))
    guard fd >= 0 else { throw TestError(description: "open failed") }
    defer { close(fd) }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

/// Deterministic PRNG for tests (SplitMix64).
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Splits `bytes` into random chunks (including 1-byte ones) to exercise incremental decoders.
func randomSplits(_ bytes: [UInt8], rng: inout TestRNG) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var i = 0
    while i < bytes.count {
        let n = min(bytes.count - i, Int.random(in: 1...max(1, min(17, bytes.count)), using: &rng))
        out.append(Array(bytes[i..<(i + n)]))
        i += n
    }
    return out
}

/// The values the issue-11 property tests feed into every numeric field a peer controls:
/// 0, 1, 2^31, 2^32, 2^35, 2^63-1 and 2^64-1.
let extremeWireValues: [UInt64] = [0, 1, 1 << 31, 1 << 32, 1 << 35, UInt64(Int64.max), .max]
