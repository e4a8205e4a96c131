// The fuzz targets of fuzz/Ironclad.Nbd.Fuzz run here as smoke tests: every corpus file, plus
// seeded random and mutated inputs, through the same code the fuzzer runs. A target that is not
// registered (and so neither fuzzed nor smoke-tested) fails Every_fuzz_target_is_registered_and_smoke_tested.
using System.Reflection;
using Ironclad.Nbd.Fuzz;
using Ironclad.Nbd.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Nbd.Tests.Fuzz;

public sealed class FuzzSmokeTests
{
    private const int GeneratedInputsPerTarget = 4000;

    private static string CorpusDirectory => Path.Combine(AppContext.BaseDirectory, "fuzz-corpus");

    public static TheoryData<string> Targets() => [.. NbdFuzzTargets.All.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_corpus_input_of_the_target_runs_without_a_finding(string name)
    {
        var corpus = CorpusFor(name);

        Assert.NotEmpty(corpus); // every target has a seed corpus
        foreach (var (file, input) in corpus)
        {
            Run(name, input.AsSpan(1), $"corpus file {file}");
            NbdFuzzTargets.Dispatch(input); // and through the fuzzer's entry point
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Seeded_random_and_mutated_inputs_run_without_a_finding(string name)
    {
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);
        var corpus = CorpusFor(name).Select(c => c.Input[1..]).ToList();
        for (var i = 0; i < GeneratedInputsPerTarget; i++)
        {
            var input = i % 4 == 0 || corpus.Count == 0
                ? Mutations.RandomBytes(random, 96)
                : Mutations.Mutate(random, corpus[random.Next(corpus.Count)]);
            Run(name, input, $"generated input {i} (seed {seed})");
        }
    }

    [Fact]
    public void Every_fuzz_target_is_registered_and_smoke_tested()
    {
        var registered = NbdFuzzTargets.All.Select(t => t.Run.Method).ToHashSet();
        var marked = typeof(NbdFuzzTargets).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.IsDefined(typeof(FuzzTargetAttribute)))
            .ToHashSet();
        var lookAlikes = typeof(NbdFuzzTargets).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Where(m => m.Name != nameof(NbdFuzzTargets.Dispatch) && m.ReturnType == typeof(void) && m.GetParameters() is [{ ParameterType: var p }] && p == typeof(ReadOnlySpan<byte>));

        Assert.All(marked, m => Assert.True(registered.Contains(m), $"[FuzzTarget] {m.Name} is not in NbdFuzzTargets.All, so nothing fuzzes or smoke-tests it"));
        Assert.All(registered, m => Assert.True(marked.Contains(m), $"{m.Name} is registered but not marked [FuzzTarget]"));
        Assert.All(lookAlikes, m => Assert.True(marked.Contains(m), $"{m.Name} looks like a fuzz target but is not marked [FuzzTarget] and registered"));
        Assert.Equal(NbdFuzzTargets.All.Select(t => t.Name), Targets().Select(row => row.Data));
        Assert.Equal(NbdFuzzTargets.All.Count, NbdFuzzTargets.All.Select(t => t.Name).Distinct().Count());
    }

    [Fact]
    public void Every_corpus_file_is_named_after_the_target_its_first_byte_selects()
    {
        var files = Directory.GetFiles(CorpusDirectory);

        Assert.NotEmpty(files);
        Assert.All(files, file =>
        {
            var input = File.ReadAllBytes(file);
            Assert.True(input.Length > 0, $"{file} is empty: it selects no target");
            var target = NbdFuzzTargets.All[input[0] % NbdFuzzTargets.All.Count];
            Assert.StartsWith(target.Name + "-", Path.GetFileName(file), StringComparison.Ordinal);
        });
    }

    [Fact]
    public void The_targets_reject_what_they_must_and_report_what_does_not_round_trip()
    {
        // Oracle sanity: the targets are not vacuous. A valid header must parse (else the oracle throws)...
        NbdFuzzTargets.RequestHeaderTryParse(RawNbdClient.Request(0, 0, 1, 0, 512));
        NbdFuzzTargets.Dispatch([]);

        // ...and an empty input must not.
        NbdFuzzTargets.RequestHeaderTryParse([]);
        NbdFuzzTargets.InfoRequest(RawNbdClient.InfoRequest("disk", Wire.InfoName));
        NbdFuzzTargets.MetaContextRequest(RawNbdClient.MetaContextRequest("disk", "base:allocation"));
        NbdFuzzTargets.ExportName("disk"u8);
    }

    private static void Run(string name, ReadOnlySpan<byte> input, string what)
    {
        var target = NbdFuzzTargets.All.Single(t => t.Name == name);
        try
        {
            target.Run(input);
        }
        catch (Exception e)
        {
            Assert.Fail($"fuzz target {name} failed on {what}: {Convert.ToHexString(input)}\n{e}");
        }
    }

    private static List<(string File, byte[] Input)> CorpusFor(string name)
    {
        var index = NbdFuzzTargets.All.Select((t, i) => (t, i)).Single(x => x.t.Name == name).i;
        return [.. Directory.GetFiles(CorpusDirectory)
            .Order(StringComparer.Ordinal)
            .Select(f => (Path.GetFileName(f), File.ReadAllBytes(f)))
            .Where(c => c.Item2.Length > 0 && c.Item2[0] % NbdFuzzTargets.All.Count == index)];
    }
}
