/// A point in time for the Sans-IO state machines: nanoseconds since an
/// arbitrary origin, supplied by the shell (a real clock) or a simulation.
///
/// All arithmetic saturates: an instant never wraps or traps, whatever duration
/// a peer manages to put into it (SPEC §8.1: no value a peer sends can crash the node).
public struct NetworkInstant: Hashable, Comparable, Sendable {
    public var nanoseconds: UInt64
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    public static let zero = NetworkInstant(nanoseconds: 0)
    /// The far future: what a saturated expiry becomes.
    public static let distantFuture = NetworkInstant(nanoseconds: .max)

    public static func < (a: NetworkInstant, b: NetworkInstant) -> Bool { a.nanoseconds < b.nanoseconds }

    /// `a` moved by `d` (backwards when `d` is negative), clamped to `0...UInt64.max` ns.
    public static func + (a: NetworkInstant, d: Duration) -> NetworkInstant {
        let delta = d.saturatingNanoseconds
        if delta >= 0 {
            let (sum, overflow) = a.nanoseconds.addingReportingOverflow(UInt64(delta))
            return NetworkInstant(nanoseconds: overflow ? .max : sum)
        }
        let back = delta == .min ? UInt64(Int64.max) + 1 : UInt64(-delta)
        return NetworkInstant(nanoseconds: a.nanoseconds >= back ? a.nanoseconds - back : 0)
    }

    /// `a` moved back by `d`, clamped like `+`.
    public static func - (a: NetworkInstant, d: Duration) -> NetworkInstant {
        let ns = d.saturatingNanoseconds
        return ns == .min ? a + .nanoseconds(Int64.max) + .nanoseconds(1) : a + .nanoseconds(-ns)
    }

    /// The signed time from `b` to `a`, clamped to what a `Duration` of Int64 nanoseconds holds.
    public static func - (a: NetworkInstant, b: NetworkInstant) -> Duration {
        if a.nanoseconds >= b.nanoseconds {
            return .nanoseconds(Int64(clamping: a.nanoseconds - b.nanoseconds))
        }
        return .nanoseconds(-Int64(clamping: b.nanoseconds - a.nanoseconds))
    }

    public static func += (a: inout NetworkInstant, d: Duration) { a = a + d }
}

extension Duration {
    /// Nanoseconds of a non-negative duration (negative ones count as zero), saturating at `UInt64.max`.
    var nanoseconds: UInt64 {
        let ns = saturatingNanoseconds
        return ns <= 0 ? 0 : UInt64(ns)
    }

    /// The duration in nanoseconds, clamped to `Int64` (about ±292 years) instead of trapping.
    var saturatingNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }

    /// A duration of `seconds` a peer sent, clamped to `limit` before any arithmetic:
    /// the one way untrusted durations and expiries enter the Sans-IO cores.
    public static func seconds(untrusted seconds: UInt64, atMost limit: Duration) -> Duration {
        let cap = limit.nanoseconds / 1_000_000_000
        return .seconds(Int64(clamping: Swift.min(seconds, cap)))
    }
}
