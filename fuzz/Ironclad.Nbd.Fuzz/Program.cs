// Entry point for the fuzzers (see fuzz/README.md):
//   dotnet Ironclad.Nbd.Fuzz.dll                 AFL (afl-fuzz runs this; SharpFuzz out-of-process mode)
//   dotnet Ironclad.Nbd.Fuzz.dll libfuzzer       libFuzzer (via libfuzzer-dotnet --target_arg=libfuzzer)
//   dotnet Ironclad.Nbd.Fuzz.dll replay PATH...  runs files or directories once, e.g. a crash to debug
using Ironclad.Nbd.Fuzz;
using SharpFuzz;

var mode = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("IRONCLAD_FUZZ_ENGINE") ?? "afl";
switch (mode)
{
    case "afl":
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            NbdFuzzTargets.Dispatch(buffer.ToArray());
        });
        return 0;
    case "libfuzzer":
        Fuzzer.LibFuzzer.Run(NbdFuzzTargets.Dispatch);
        return 0;
    case "replay":
        var files = args.Skip(1)
            .SelectMany(path => Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories) : [path])
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var file in files)
        {
            NbdFuzzTargets.Dispatch(File.ReadAllBytes(file));
        }

        Console.WriteLine($"{files.Count} inputs replayed without a finding");
        return 0;
    default:
        Console.Error.WriteLine("usage: Ironclad.Nbd.Fuzz [afl | libfuzzer | replay PATH...]");
        return 2;
}
