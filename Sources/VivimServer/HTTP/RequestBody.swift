import Foundation
import Hummingbird
import VivimCore

extension Request {
    /// Reads at most `limit` bytes of JSON body and decodes it; refuses an oversized or
    /// malformed body with a 4xx domain error, whatever the input.
    func decodeJSON<T: Decodable>(as type: T.Type, limit: Int) async throws -> T {
        let buffer = try await collectBody(limit: limit)
        guard buffer.readableBytes > 0 else { throw VivimError.validation("request body is required") }
        return try decodeBody(T.self, from: Data(buffer: buffer))
    }

    /// The body, at most `limit` bytes; larger is PAYLOAD_TOO_LARGE.
    func collectBody(limit: Int) async throws -> ByteBuffer {
        var body = self
        do {
            return try await body.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw VivimError(.payloadTooLarge, "request body is larger than \(limit) bytes")
        }
    }
}

extension Request {
    /// Query-string pagination (`page`, `pageSize`), validated.
    func pageRequest() throws -> PageRequestParameters {
        let page = try intQuery("page", default: 1, range: 1...1_000_000)
        let pageSize = try intQuery("pageSize", default: 20, range: 1...100)
        return PageRequestParameters(page: page, pageSize: pageSize)
    }

    func intQuery(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = uri.queryParameters[name[...]] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw VivimError.validation("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)", field: name)
        }
        return number
    }

    func stringQuery(_ name: String, maxLength: Int = InputLimits.maxNameLength) throws -> String? {
        // Hummingbird has already percent-decoded query values.
        guard let text = uri.queryParameters[name[...]].map(String.init) else { return nil }
        try InputLimits.checkString(text, field: name, max: maxLength)
        return text
    }
}

struct PageRequestParameters {
    var page: Int
    var pageSize: Int
}

import NIOCore
import NIOFoundationCompat

/// Decodes JSON, turning decoding failures into VALIDATION_ERROR with the field path.
func decodeBody<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let error as DecodingError {
        throw ErrorResponder.decodingError(error)
    }
}
