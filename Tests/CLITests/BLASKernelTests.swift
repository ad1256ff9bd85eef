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

// Under an address-space limit OpenBLAS's load-time server threads retry their failed 128 MiB
// buffer reservations for ever, and exit joins them: lorweb hung even on `--help`. It now
// restarts single-threaded under such a limit and refuses one it cannot run under.

/// Runs `lorweb arguments` under `ulimit -v kib`; nil when it had not ended after 60 s (then killed).
private func runUnderAddressLimit(_ kib: Int, _ arguments: [String]) throws -> Run? {
    let quoted = ([CLI.binary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", "ulimit -v \(kib) && exec " + quoted.joined(separator: " ")]
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_CORETYPE"] = nil
    environment["OPENBLAS_NUM_THREADS"] = nil
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let deadline = Date().addingTimeInterval(60)
    while p.isRunning && Date() < deadline { usleep(50_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); return nil }
    return CLI.finish((p, out, err))
}

@Test func aTooSmallAddressSpaceLimitIsRefusedInOneLine() throws {
    let run = try #require(try runUnderAddressLimit(200_000, ["--help"]), "lorweb hung under ulimit -v 200000")
    #expect(run.status == 1)
    #expect(run.stderr.hasPrefix("lorweb: the address-space limit (ulimit -v) is 195 MiB; lorweb needs at least"), "\(run.stderr)")
    #expect(run.stderr.split(separator: "\n").count == 1)
}

@Test func anEditRunsUnderAModestAddressSpaceLimit() throws {
    let e = Determinism.examples + "/"
    let folder = try scratchFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let out = folder + "/b_prime.png"
    let run = try #require(try runUnderAddressLimit(600_000, ["edit", "--a", e + "seen_000000_a.png", "--a-prime", e + "seen_000000_ap.png",
                                                              "--b", e + "seen_000000_b.png", "--out", out, "--threads", "2"]),
                           "lorweb hung under ulimit -v 600000")
    #expect(run.status == 0, "\(run.stderr)")
    #expect(FileManager.default.fileExists(atPath: out))
}
