import Foundation

/// What a stage did, for the orchestrator's metrics (SPEC §7.1: per-stage timings, sizes).
public struct StageReport: Sendable, Equatable {
    /// "filter" or "transform".
    public var stage: String
    public var inputBytes: Int
    public var outputBytes: Int
    public var messagesIn: Int
    public var messagesOut: Int
    /// Named counts: items removed per filter, redactions per PII kind (`pii.EMAIL`), ….
    public var counters: [String: Int]
    public var elapsed: Duration

    public init(stage: String, inputBytes: Int, outputBytes: Int, messagesIn: Int, messagesOut: Int,
                counters: [String: Int] = [:], elapsed: Duration = .zero) {
        self.stage = stage
        self.inputBytes = inputBytes
        self.outputBytes = outputBytes
        self.messagesIn = messagesIn
        self.messagesOut = messagesOut
        self.counters = counters
        self.elapsed = elapsed
    }
}
