// Runs examples/seed-walkthrough.sh end to end, as CI does: the script starts its own server (vault
// ports 26420-26439, the cli helper's range) with the ironclad.dll these tests use, performs every step
// of the seed through the CLI, qemu-io over NBD included, and must exit 0 saying OK.
using Ironclad.Testing.Processes;
using Ironclad.Testing.Tools;

namespace Ironclad.Cli.Tests;

public sealed class SeedWalkthroughTests
{
    [Fact]
    public async Task The_seed_walkthrough_script_runs_every_step_green()
    {
        var bash = ExternalTool.Require("bash");
        ExternalTool.Require("qemu-io", "Debian package qemu-utils");
        ExternalTool.Require("python3", "Debian package python3");
        var script = Path.Combine(RepositoryRoot(), "examples", "seed-walkthrough.sh");
        var environment = new Dictionary<string, string?>
        {
            ["IRONCLAD_DLL"] = IroncladExecutable.LocateAssembly(),
            ["DOTNET_HOST_PATH"] = IroncladExecutable.LocateDotnetHost(),
            ["IRONCLAD_VAULT_PORTS"] = "26420-26439",
            ["IRONCLAD_SERVER_DATA"] = null,
            ["IRONCLAD_PROFILE"] = null,
        };
        var result = await bash.RunAsync([script], TimeSpan.FromMinutes(15), environment, TestContext.Current.CancellationToken);
        Assert.True(result.Succeeded, result.Describe());
        Assert.Contains("seed-walkthrough: OK", result.StandardOutput, StringComparison.Ordinal);
        foreach (var step in new[] { "soft delete and purge protection", "marketplace image", "snapshot", "custom image", "scale set", "revoke", "restore" })
        {
            Assert.Contains(step, result.StandardOutput, StringComparison.Ordinal);
        }
    }

    /// <summary>The checkout this test was built from: the nearest parent of the test's output directory holding examples/seed-walkthrough.sh.</summary>
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "examples", "seed-walkthrough.sh")))
            {
                return directory.FullName;
            }
        }

        throw new FileNotFoundException($"No examples/seed-walkthrough.sh above {AppContext.BaseDirectory}.");
    }
}
