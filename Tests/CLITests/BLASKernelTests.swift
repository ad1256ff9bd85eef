import Foundation
import Testing
import TestSupport

// OpenBLAS 0.3.21 falls back to its Prescott (SSE3) kernel on CPU models it does not know, 5x
// slower than the AVX-512 one; lorweb then restarts itself with OPENBLAS_CORETYPE chosen from the
// CPU's instruction sets. A kernel the user chose is kept.

/// The `core=` part of `lorweb bench ops --json`'s "blas" field.
private func kernel(environment: [String: String] = [:]) throws -> String {
    let run = try CLI.run(["bench", "ops", "--reps", "1", "--json"], environment: environment)
    #expect(run.status == 0, "\(run.stderr)")
    let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let blas = try #require(report?["blas"] as? String)
    return String(try #require(blas.split(separator: " ").first { $0.hasPrefix("core=") }).dropFirst(5))
}

/// Whether the CPU has AVX2 and FMA (then Prescott is never the right kernel).
private let hasAVX2: Bool = {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let flags = info.split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ")) } ?? []
    return flags.contains("avx2") && flags.contains("fma")
}()

@Test(.enabled(if: hasAVX2, "the CPU has no AVX2: Prescott may be the right kernel"))
func openBLASNeverRunsPrescottOnAnAVX2Machine() throws {
    #expect(try kernel() != "Prescott")
}

@Test(.enabled(if: hasAVX2, "the CPU has no AVX2 for the Haswell kernel"))
func aKernelTheUserChoseIsKept() throws {
    #expect(try kernel(environment: ["OPENBLAS_CORETYPE": "Haswell"]) == "Haswell")
}
