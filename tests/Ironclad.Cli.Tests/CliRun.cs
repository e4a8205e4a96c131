// Runs the real `ironclad` executable as a CLI user would, against a real server, with its own
// login profile file: exit code, stdout and stderr, and the JSON stdout parsed. Every run is
// bounded in time; a failure message quotes the whole command line and both outputs.
using System.Text.Json.Nodes;
using Ironclad.Testing.Processes;

namespace Ironclad.Cli.Tests;

internal sealed record CliResult(IReadOnlyList<string> Arguments, int ExitCode, string StandardOutput, string StandardError)
{
    public string Describe() =>
        $"`ironclad {string.Join(' ', Arguments)}` exited {ExitCode}\n--- stdout\n{StandardOutput}\n--- stderr\n{StandardError}";

    public CliResult Succeeded()
    {
        Assert.True(ExitCode == 0, Describe());
        return this;
    }

    /// <summary>Asserts the exit code (1; 3 when the service answered 404) with `ironclad: error: CODE: ...` on stderr.</summary>
    public CliResult FailedWith(string code, int expectedExit = 1)
    {
        Assert.True(ExitCode == expectedExit, $"expected exit {expectedExit}.\n{Describe()}");
        Assert.True(StandardError.Contains($"ironclad: error: {code}: ", StringComparison.Ordinal), $"expected error code {code}.\n{Describe()}");
        return this;
    }

    public JsonNode Json() => JsonNode.Parse(StandardOutput) ?? throw new InvalidOperationException($"no JSON on stdout.\n{Describe()}");
}

internal sealed class Cli(string profilePath)
{
    public string ProfilePath { get; } = profilePath;

    /// <summary>Runs `ironclad ARGS --profile FILE` (the profile is appended unless <paramref name="withProfile"/> is false).</summary>
    public async Task<CliResult> RunAsync(IEnumerable<string> arguments, bool withProfile = true)
    {
        List<string> all = [.. arguments];
        if (withProfile)
        {
            all.AddRange(["--profile", ProfilePath]);
        }

        await using var process = IroncladProcess.Start(all);
        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        return new CliResult(all, exitCode, process.StandardOutput, process.StandardError);
    }

    public Task<CliResult> RunAsync(params string[] arguments) => RunAsync((IEnumerable<string>)arguments);
}
