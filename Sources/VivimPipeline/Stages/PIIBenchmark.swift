import Foundation

/// Throughput of `PIIRedactor` on generated chat content (prose, code, JSON tool output,
/// logs) with personal information sprinkled in, for `vivim bench pipeline`.
public enum PIIBenchmark {
    public struct Result: Sendable, Equatable {
        public var mbPerSecond: Double
        public var bytes: Int
        public var messages: Int
        public var redactions: Int
        public var seconds: Double
    }

    /// Redacts about `megabytes` MB (10^6 bytes) of messages of 0.5–4 KB, each on its own as
    /// the filter stage does, and reports bytes per second. Generation is not timed and is
    /// seeded, so runs compare.
    public static func run(megabytes: Int) -> Result {
        let messages = generate(bytes: max(1, megabytes) * 1_000_000)
        let bytes = messages.reduce(0) { $0 + $1.utf8.count }
        let redactor = PIIRedactor()
        let clock = ContinuousClock()
        var redactions = 0
        let elapsed = clock.measure {
            for message in messages { redactions += redactor.redact(message).total }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Result(mbPerSecond: Double(bytes) / 1e6 / max(seconds, 1e-9), bytes: bytes, messages: messages.count,
                      redactions: redactions, seconds: seconds)
    }

    /// Deterministic chat-like messages totalling at least `bytes` UTF-8 bytes.
    static func generate(bytes: Int) -> [String] {
        var random = SplitMix64(seed: 0x5EED_F00D)
        var messages: [String] = []
        var total = 0
        while total < bytes {
            var message = ""
            let target = 512 + Int(random.next() % 3584)
            while message.utf8.count < target {
                let roll = random.next() % 100
                if roll < 8 {
                    message += pii[Int(random.next() % UInt64(pii.count))]
                } else {
                    message += filler[Int(random.next() % UInt64(filler.count))]
                }
                message += roll % 7 == 0 ? "\n" : " "
            }
            total += message.utf8.count
            messages.append(message)
        }
        return messages
    }

    static let filler = [
        "Sure! Here's how you can refactor the function so it no longer blocks the event loop.",
        "The error happens because the decoder expects an ISO 8601 date but receives 2024-03-15 14:30.",
        "```swift\nlet total = items.reduce(0) { $0 + $1.price * Double($1.quantity) }\n```",
        "{\"status\": 200, \"items\": [{\"id\": \"550e8400-e29b-41d4-a716-446655440000\", \"qty\": 3}], \"version\": \"1.4.2\"}",
        "2024-05-01T12:00:03Z INFO request completed in 12.5 ms (p99 48 ms), build 20240501.3",
        "Upgrade Node from 18.17.1 to 20.10.0 and run npm ci again; commit 3f2a9c1e8b7d fixes the lockfile.",
        "Les résultats montrent une amélioration de 12,5 % — très bien ! 日本語のテキストも含まれています。",
        "for i in range(1, 1000): total += i * 0.5  # order #123456789 shipped",
        "I think the issue is the timeout; try raising it to 30 seconds and enabling retries with backoff.",
        "SELECT id, created_at FROM orders WHERE total > 1,234.56 AND status = 'paid' LIMIT 50;",
        "مرحبا! هذا نص تجريبي باللغة العربية مع بعض الأرقام 2024 و 3.14 👋🏽",
        "Let me know if you'd like me to add tests for the edge cases (empty input, Unicode, very long lines).",
    ]

    static let pii = [
        "Email me at maria.gonzalez@estudio-gonzalez.es please.",
        "My cell is +1 (415) 555-2671.",
        "Call 020 7946 0958 tomorrow.",
        "Card 4539 1488 0343 6467 exp 08/27.",
        "Server 203.0.113.42 refused the connection.",
        "IBAN DE89 3704 0044 0532 0130 00.",
        "export OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
        "password: hunter2",
        "I live at 742 Evergreen Terrace, Springfield.",
        "SSN 536-22-8471 on the form.",
        "listen [2001:db8::1]:443;",
    ]
}

/// A small seeded generator (SplitMix64, Steele, Lea & Flood 2014) so benchmark input is
/// the same on every run.
struct SplitMix64 {
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
