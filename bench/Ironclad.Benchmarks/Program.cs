// Entry point for every benchmark suite: `dotnet run -c Release --project bench/Ironclad.Benchmarks -- --filter '*Xts*'`.
// Suites live in folders per area (Crypto/, Storage/); each compares against a baseline in the same run.
// `keyvault-unwrap --endpoints PATH` is the HTTP load generator of bench/keyvault-unwrap.sh instead.
using BenchmarkDotNet.Running;
using Ironclad.Benchmarks.KeyVault;

if (args.Length > 0 && args[0] == "keyvault-unwrap")
{
    return await UnwrapLoad.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
