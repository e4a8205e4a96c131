// SIGTERM and SIGINT stop the real server cleanly: exit code 0, a "stopped" log line, and no
// endpoints.json left behind describing a server that is gone.
using System.Runtime.InteropServices;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Host.Tests;

public sealed class ServerShutdownTests
{
    [Theory]
    [InlineData(PosixSignal.SIGTERM)]
    [InlineData(PosixSignal.SIGINT)]
    public async Task Signal_stops_the_server_promptly_with_exit_code_0(PosixSignal signal)
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        await using var server = await IroncladServer.StartAsync(temporary.Combine("data"), cancellationToken: TestContext.Current.CancellationToken);

        server.Process.Signal(signal);
        var exitCode = await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{server.Process.CapturedOutput()}");
        Assert.Contains("Ironclad server stopped", server.Process.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("closed cleanly (checkpoint written)", server.Process.StandardOutput, StringComparison.Ordinal);
        Assert.False(File.Exists(server.EndpointsPath), "endpoints.json outlived the server");
        Assert.Equal(string.Empty, server.Process.StandardError);
    }
}
