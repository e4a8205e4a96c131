// The helper every interop test runs its clients through (tests/Ironclad.Testing/Tools): it must
// report what a tool did, kill one that hangs, and turn a missing tool into a skip locally and a
// failure in CI, naming the tool either way.
using Ironclad.Testing.Tools;

namespace Ironclad.Interop.Tests.Tools;

public sealed class ExternalToolTests
{
    private const string MissingTool = "ironclad-interop-no-such-tool";

    [Fact]
    public void A_missing_tool_is_a_skip_locally_and_a_failure_under_IRONCLAD_REQUIRE_TOOLS()
    {
        Assert.Null(ExternalTool.TryFind(MissingTool));
        // Caught by hand: xunit's Assert.Throws lets an exception carrying the dynamic-skip token
        // through, which would skip this test instead of examining the exception.
        ExternalToolMissingException? missing = null;
        try
        {
            ExternalTool.Require(MissingTool, "no package has it");
        }
        catch (ExternalToolMissingException e)
        {
            missing = e;
        }

        Assert.NotNull(missing);

        Assert.Equal(MissingTool, missing.ToolName);
        Assert.Contains($"'{MissingTool}' is not on PATH (no package has it)", missing.Message, StringComparison.Ordinal);
        // xunit v3 reports an exception whose message starts with this token as a skip, anything else as a failure.
        Assert.Equal(!ExternalTool.ToolsRequired, missing.Message.StartsWith(Xunit.v3.DynamicSkipToken.Value, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_run_reports_the_exit_code_and_both_outputs()
    {
        var shell = ExternalTool.Require("sh");

        var result = await shell.RunAsync(["-c", "echo to-stdout; echo to-stderr >&2; exit 3"], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("to-stdout\n", result.StandardOutput);
        Assert.Equal("to-stderr\n", result.StandardError);
        var failure = Assert.Throws<ToolFailedException>(() => result.EnsureSuccess("the step"));
        Assert.Contains("the step: expected success", failure.Message, StringComparison.Ordinal);
        Assert.Contains("exited 3", failure.Message, StringComparison.Ordinal);
        Assert.Contains("to-stdout", failure.Message, StringComparison.Ordinal);
        Assert.Contains("to-stderr", failure.Message, StringComparison.Ordinal);
        Assert.Same(result, result.EnsureFailure());
    }

    [Fact]
    public async Task A_run_past_its_timeout_is_killed_and_the_failure_quotes_its_output()
    {
        var shell = ExternalTool.Require("sh");
        var sleep = ExternalTool.Require("sleep");

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => shell.RunAsync(
            ["-c", "echo started; exec \"$0\" 30", sleep.Path], TimeSpan.FromMilliseconds(500), cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("did not finish within 0.5 s and was killed", timeout.Message, StringComparison.Ordinal);
        Assert.Contains("started", timeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Command_lines_in_messages_are_quoted_so_they_can_be_pasted_into_a_shell()
    {
        Assert.Equal("qemu-io -c 'write -P 0x5a 0 4k' 'it'\\''s' nbd://127.0.0.1:1/x",
            ToolResult.FormatCommandLine("qemu-io", ["-c", "write -P 0x5a 0 4k", "it's", "nbd://127.0.0.1:1/x"]));
    }
}
