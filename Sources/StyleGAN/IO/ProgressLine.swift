// The one progress line of every long command (prepare, train, the Inception pass of metrics,
// project): redrawn in place on stderr with \r at most ten times a second, as "<what>  <rate>
// <unit>/s  ETA <time>", and ended with a newline. Safe to advance from several threads.
import Foundation

public final class ProgressLine: @unchecked Sendable {  // state behind `lock`
    private let total: Int, unit: String, enabled: Bool
    private let start = Date()
    private var done = 0
    private var lastDraw = Date.distantPast
    private var text: String?, rate: Double?
    private let lock = NSLock()

    /// `unit`: what is counted ("img", "step"); `enabled` false draws nothing (--quiet).
    public init(total: Int, unit: String, enabled: Bool = true) { (self.total, self.unit, self.enabled) = (total, unit, enabled) }

    /// `done` units finished. `text` replaces the default "done/total units"; `rate` (units/s)
    /// replaces the average since the start (the trainer passes its recent rate). `force` draws now.
    public func update(done: Int, text: String? = nil, rate: Double? = nil, force: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        (self.done, self.text, self.rate) = (done, text, rate)
        drawIfDue(force: force)
    }

    public func advance(by n: Int = 1) {
        lock.lock()
        defer { lock.unlock() }
        done += n
        drawIfDue(force: done >= total)
    }

    /// Draws the final state and ends the line.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard enabled else { return }
        draw()
        FileHandle.standardError.write(Data("\n".utf8))
    }

    /// "1h02m" from an hour on, else "3m05s".
    public static func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds.isFinite ? seconds : 0).rounded(.up))
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }

    private func drawIfDue(force: Bool) {
        guard enabled else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        draw()
    }

    private func draw() {
        let r = rate ?? Double(done) / max(Date().timeIntervalSince(start), 1e-9)
        let what = text ?? String(repeating: " ", count: max(0, String(total).count - String(done).count)) + "\(done)/\(total) \(unit)"
        let line = String(format: "\r%@  %.1f %@/s  ETA %@   ", what, r, unit, ProgressLine.duration(Double(total - done) / max(r, 1e-9)))
        FileHandle.standardError.write(Data(line.utf8))
    }
}
