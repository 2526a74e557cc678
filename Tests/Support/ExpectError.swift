// Shared by the test targets: the call must throw the library's error from the given domain.
import StyleGAN
import Testing

public func expectError(_ domain: StyleGANError.Domain, _ comment: Comment? = nil,
                 sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(domain) error; nothing was thrown. \(comment.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
    } catch let e as StyleGANError {
        #expect(e.domain == domain, "expected a \(domain) error, got \(e.domain): \(e)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a \(domain) error, got \(error)", sourceLocation: sourceLocation)
    }
}
