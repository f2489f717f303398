import Foundation
import Testing
@testable import VivimPipeline

@Suite struct PIIRedactorTests {
    let redactor = PIIRedactor()

    func redacted(_ text: String) -> String { redactor.redact(text).text }

    @Test func eachKindGetsItsTypedPlaceholder() {
        #expect(redacted("mail ana@example.org now") == "mail [EMAIL] now")
        #expect(redacted("call +1 (415) 555-2671.") == "call [PHONE].")
        #expect(redacted("card 4111-1111-1111-1111 ok") == "card [CREDIT_CARD] ok")
        #expect(redacted("from 203.0.113.9:443") == "from [IP_ADDRESS]:443")
        #expect(redacted("to 2001:db8::7 via") == "to [IP_ADDRESS] via")
        #expect(redacted("IBAN GB82 WEST 1234 5698 7654 32.") == "IBAN [IBAN].")
        #expect(redacted("key AKIAZ7Q4M2XR9TBL5WQN here") == "key [API_KEY] here")
        #expect(redacted("SSN 536-22-8471") == "SSN [SSN]")
        #expect(redacted("at 742 Evergreen Terrace, Springfield") == "at [ADDRESS], Springfield")
    }

    @Test func countsArePerKind() {
        let result = redactor.redact("a@b.io, c@d.io, 10.1.2.3 and +49 30 901820")
        #expect(result.counts == [.email: 2, .ipAddress: 1, .phone: 1])
        #expect(result.total == 4)
        #expect(result.bytesRemoved == "a@b.io".utf8.count * 2 + "10.1.2.3".utf8.count + "+49 30 901820".utf8.count)
    }

    @Test func secretAssignmentsKeepTheNameAndHideTheValue() {
        #expect(redacted("DB_PASSWORD=S3cure!Passw0rd\nDEBUG=1") == "DB_PASSWORD=[API_KEY]\nDEBUG=1")
        #expect(redacted(#"{"password": "Tr0ub4dor&3"}"#) == #"{"password": "[API_KEY]"}"#)
        #expect(redacted("postgres://app:Zk29fhQ1xLp0@db.example.com/prod") == "postgres://app:[API_KEY]@db.example.com/prod")
    }

    @Test func privateKeyBlocksAreRedactedWhole() {
        let text = "key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oqnDmb8XYX2MoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\ndone"
        #expect(redacted(text) == "key:\n[API_KEY]\ndone")
    }

    @Test func loopbackAndUnspecifiedAddressesAreNotRedacted() {
        let text = "curl http://127.0.0.1:8080 and bind 0.0.0.0, mask 255.255.255.0, or ::1"
        #expect(redacted(text) == text)
    }

    @Test func codeIdentifiersAreNotTouched() {
        let code = """
            let id = UUID(uuidString: "550e8400-e29b-41d4-a716-446655440000")!
            // commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39, sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
            .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0")
            let started = "2024-03-15T10:30:00Z"; let ratio = 16.0 / 9.0; std::vector<int> v;
            for i in 0..<1_000_000 { total += i * 31 % 1000003 }
            """
        #expect(redacted(code) == code)
    }

    @Test func redactionIsIdempotent() throws {
        for item in try PIICorpusTests.loadCorpus() {
            let once = redacted(item.text)
            #expect(redacted(once) == once, "\(item.id)")
        }
    }

    @Test func redactingNeverIncreasesTheAmountOfPersonalInformation() throws {
        var random = SplitMix64(seed: 7)
        let corpus = try PIICorpusTests.loadCorpus().map(\.text)
        for _ in 0..<300 {
            // Glue random corpus lines together, sometimes without a separator.
            let pieces = (0..<4).map { _ in corpus[Int(random.next() % UInt64(corpus.count))] }
            let text = pieces.joined(separator: random.next() % 2 == 0 ? " " : "")
            let before = redactor.matches(in: text).count
            let after = redactor.matches(in: redacted(text)).count
            #expect(after <= before)
            #expect(after == 0, "\(text)")
        }
    }

    @Test func arbitraryUnicodeNeverCrashesAndSurvivesUnchangedOutsideMatches() {
        let samples = [
            "", " ", "@", "+", "(", "::", "-----BEGIN PRIVATE KEY-----", "password=", "a@", "@b.c", "+1", "(12)",
            "👩🏽‍💻 emails 📧 jane@example.com 🎉", "مرحبا +966 50 123 4567 شكرا", "שלום 10.0.0.1 עולם",
            "e\u{301}\u{302}\u{303} 4111 1111 1111 1111 \u{200F}\u{202E}reversed", "\u{0}\u{1}\u{7F}\u{FEFF}",
            String(repeating: "9", count: 10_000), String(repeating: "a@", count: 5_000), String(repeating: "1.", count: 5_000),
        ]
        var random = SplitMix64(seed: 42)
        var fuzz: [String] = []
        let alphabet = Array("aZ09 .-+@:()_=/'\"\n#é😀\u{301}\u{202E}אب".unicodeScalars)
        for _ in 0..<500 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int(random.next() % 80) { scalars.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
            fuzz.append(String(scalars))
        }
        for text in samples + fuzz {
            let result = redactor.redact(text)
            if result.total == 0 { #expect(result.text == text) }
            // Everything outside the placeholders is the original text.
            var stripped = result.text
            for kind in PIIKind.allCases { stripped = stripped.replacingOccurrences(of: kind.placeholder, with: "") }
            #expect(stripped.unicodeScalars.count <= text.unicodeScalars.count)
        }
        #expect(redacted("👩🏽‍💻 emails 📧 jane@example.com 🎉") == "👩🏽‍💻 emails 📧 [EMAIL] 🎉")
        #expect(redacted("مرحبا +966 50 123 4567 شكرا") == "مرحبا [PHONE] شكرا")
    }

    @Test func emptyTextHasNothingToRedact() {
        #expect(redactor.redact("") == PIIRedaction(text: ""))
        #expect(redactor.matches(in: "").isEmpty)
    }

    @Test func kindsCanBeLimited() {
        let emailsOnly = PIIRedactor(kinds: [.email])
        #expect(emailsOnly.redact("a@b.io and 10.1.2.3").text == "[EMAIL] and 10.1.2.3")
    }

    @Test func matchRangesPointIntoTheText() {
        let text = "é → jane@example.com"
        let match = redactor.matches(in: text)[0]
        #expect(text[match.range(in: text)] == "jane@example.com")
    }

    @Test func benchmarkReportsThroughput() {
        let result = PIIBenchmark.run(megabytes: 1)
        #expect(result.bytes >= 1_000_000)
        #expect(result.redactions > 0)
        #expect(result.mbPerSecond > 0)
    }
}

@Suite struct PIIRedactorScriptTests {
    @Test func numbersGluedToNonLatinTextAreFound() {
        #expect(PIIRedactor().redact("電話03-1234-5678です").text == "電話[PHONE]です")
    }

    @Test func keywordsOnlyCountWhenNothingButWordsSeparateThemFromTheNumber() {
        let redactor = PIIRedactor()
        #expect(redactor.redact("phone: 4155550138").text == "phone: [PHONE]")
        #expect(redactor.redact("phone 12 of 40: 4155550138").text == "phone 12 of 40: 4155550138")
    }
}
