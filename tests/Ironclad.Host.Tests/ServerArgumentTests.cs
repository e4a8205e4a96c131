// A malformed command line is refused before anything starts: exit code 2 (usage), a message on
// stderr that names the problem, and no data directory created.
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Host.Tests;

public sealed class ServerArgumentTests
{
    [Theory]
    [InlineData("--port", "abc", "'abc'")]
    [InlineData("--port", "70000", "70000")]
    [InlineData("--port", "-5", "'-5'")]
    [InlineData("--bind", "not-an-address", "'not-an-address'")]
    [InlineData("--nbd-port", "abc", "'abc' as a port for option '--nbd-port'")]
    [InlineData("--nbd-port", "65536", "65536")]
    [InlineData("--nbd-tls", "maybe", "'maybe'")]
    [InlineData("--log-format", "xml", "'xml'")]
    [InlineData("--no-such-option", null, "'--no-such-option'")]
    public async Task Bad_argument_exits_with_usage_code_2_and_says_why_on_stderr(string option, string? value, string expectedFragment)
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("data");
        List<string> arguments = ["server", "--data", dataDirectory, option];
        if (value is not null)
        {
            arguments.Add(value);
        }

        await using var process = IroncladProcess.Start(arguments);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{process.CapturedOutput()}");
        Assert.Contains(expectedFragment, process.StandardError, StringComparison.Ordinal);
        Assert.Contains("ironclad server --help", process.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", process.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dataDirectory), "a refused command line still created the data directory");
    }

    [Fact]
    public async Task No_command_exits_with_usage_code_2()
    {
        await using var process = IroncladProcess.Start([]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{process.CapturedOutput()}");
        Assert.Contains("ironclad --help", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_lists_the_server_options_and_exits_0()
    {
        await using var process = IroncladProcess.Start(["server", "--help"]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{process.CapturedOutput()}");
        foreach (var option in new[] { "--data", "--port", "--bind", "--nbd-port", "--nbd-tls", "--log-format" })
        {
            Assert.Contains(option, process.StandardOutput, StringComparison.Ordinal);
        }
    }
}
