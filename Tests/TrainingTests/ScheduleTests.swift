// ProgressiveSchedule: the resolution / alpha trajectory of ProGAN's growth.
import Testing
@testable import Training

@Suite("Progressive schedule")
struct ScheduleTests {
    @Test func trajectory() {
        let s = ProgressiveSchedule(phaseKimg: 0.5, finalResolution: 32)
        let expected: [(Double, Int, Float)] = [
            (0, 4, 1), (0.25, 4, 1), (0.5, 8, 0), (0.75, 8, 0.5), (1.0, 8, 1), (1.25, 8, 1),
            (1.5, 16, 0), (1.875, 16, 0.75), (2.0, 16, 1), (2.5, 32, 0), (3.0, 32, 1), (100, 32, 1),
        ]
        for (kimg, r, a) in expected {
            let p = s.position(kimg: kimg)
            #expect(p.resolution == r && abs(p.alpha - a) < 1e-6, "at \(kimg) kimg: \(p.resolution) px alpha \(p.alpha), expected \(r) px alpha \(a)")
        }
        #expect(s.growthKimg == 3.5)
        #expect(s.position(kimg: 0.75).name == "fade-in 8x8")
        #expect(s.position(kimg: 1.2).name == "stabilise 8x8")
    }

    @Test func alphaRisesMonotonicallyThroughEachFade() {
        let s = ProgressiveSchedule(phaseKimg: 60, finalResolution: 64)
        var last = s.position(kimg: 60)
        for k in stride(from: 60.5, to: 120, by: 0.5) {
            let p = s.position(kimg: k)
            #expect(p.resolution == 8 && p.alpha > last.alpha)
            last = p
        }
        #expect(s.position(kimg: 10_000).resolution == 64)
    }

    @Test func tinyReaches16PixelsBy2Kimg() {
        let s = ProgressiveSchedule(phaseKimg: 0.5, finalResolution: 32)
        #expect(s.position(kimg: 2).resolution == 16)
    }
}
