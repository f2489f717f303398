import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one clock of a node. Every shell reads time from it — monotonic
/// ``NetworkInstant``s for the Sans-IO cores and wall-clock seconds for signed
/// records — so a whole node can run on simulated time (STYLE §1, SWIM's settings).
public struct NetworkClock: Sendable {
    private let monotonic: @Sendable () -> NetworkInstant
    private let wall: @Sendable () -> UInt64

    public init(monotonic: @escaping @Sendable () -> NetworkInstant, unixSeconds: @escaping @Sendable () -> UInt64) {
        self.monotonic = monotonic
        self.wall = unixSeconds
    }

    /// Monotonic time since the clock was made.
    public var now: NetworkInstant { monotonic() }
    /// Seconds since the Unix epoch (record timestamps, expiries other nodes read).
    public var unixSeconds: UInt64 { wall() }

    /// The machine's clocks: `ContinuousClock` from now on, and `CLOCK_REALTIME`.
    public static func system() -> NetworkClock {
        let origin = ContinuousClock.now
        return NetworkClock(monotonic: { NetworkInstant.zero + (ContinuousClock.now - origin) },
                            unixSeconds: {
                                var ts = timespec()
                                clock_gettime(CLOCK_REALTIME, &ts)
                                return UInt64(max(0, ts.tv_sec))
                            })
    }
}

/// A clock that moves only when told to: tests and simulations of whole nodes.
public final class ManualNetworkClock: Sendable {
    private let state: Mutex<(instant: NetworkInstant, unix: UInt64)>

    public init(now: NetworkInstant = .zero, unixSeconds: UInt64 = 1_800_000_000) {
        state = Mutex((now, unixSeconds))
    }

    public var clock: NetworkClock {
        NetworkClock(monotonic: { self.state.withLock { $0.instant } },
                     unixSeconds: { self.state.withLock { $0.unix } })
    }

    /// Moves both clocks forward by `duration` (negative durations are ignored).
    public func advance(by duration: Duration) {
        state.withLock {
            let before = $0.instant
            $0.instant = before + max(duration, .zero)
            $0.unix &+= ($0.instant.nanoseconds - before.nanoseconds) / 1_000_000_000
        }
    }
}

/// The one source of non-cryptographic randomness of a node (jitter, peer choice,
/// lookup targets, message ids of pings): the system generator by default, a seeded
/// SplitMix64 in tests and simulations. Keys and nonces never come from here.
public final class NetworkRandom: Sendable {
    private enum Source { case system, seeded(UInt64) }
    private let source: Mutex<Source>

    private init(_ source: Source) { self.source = Mutex(source) }

    /// The operating system's generator.
    public static func system() -> NetworkRandom { NetworkRandom(.system) }
    /// A deterministic stream (SplitMix64) from `seed`.
    public static func seeded(_ seed: UInt64) -> NetworkRandom { NetworkRandom(.seeded(seed)) }

    public func next() -> UInt64 {
        source.withLock { source in
            switch source {
            case .system:
                var g = SystemRandomNumberGenerator()
                return g.next()
            case .seeded(let state):
                let next = state &+ 0x9E37_79B9_7F4A_7C15
                source = .seeded(next)
                var z = next
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }
    }

    /// A `RandomNumberGenerator` drawing from this source, for the cores' `rng:` parameters.
    public var generator: Generator { Generator(source: self) }

    public struct Generator: RandomNumberGenerator, Sendable {
        let source: NetworkRandom
        public mutating func next() -> UInt64 { source.next() }
    }
}
