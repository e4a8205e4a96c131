// Entry point for every benchmark suite: `dotnet run -c Release --project bench/Ironclad.Benchmarks -- --filter '*Xts*'`.
// Suites live in folders per area (Crypto/, Storage/); each compares against a baseline in the same run.
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
