// Expected start failures: one clear sentence on stderr, exit code 1, no stack trace, and nothing
// disturbed (the file that was not a directory, the server that already owned the directory).
using System.Net;
using System.Net.Sockets;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Host.Tests;

public sealed class ServerStartFailureTests
{
    [Fact]
    public async Task Port_already_in_use_exits_1_with_a_clear_message()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        var port = ((IPEndPoint)occupier.LocalEndpoint).Port;

        await using var process = IroncladProcess.Start(
            ["server", "--data", temporary.Combine("data"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{process.CapturedOutput()}");
        Assert.Contains($"port {port} on 127.0.0.1 is already in use", process.StandardError, StringComparison.Ordinal);
        AssertNoStackTrace(process);
        Assert.False(File.Exists(ServerEndpointsFile.PathIn(temporary.Combine("data"))));
    }

    [Fact]
    public async Task Data_directory_that_is_a_regular_file_exits_1_with_a_clear_message()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var notADirectory = temporary.Combine("data");
        await File.WriteAllTextAsync(notADirectory, "not a directory", TestContext.Current.CancellationToken);

        await using var process = IroncladProcess.Start(["server", "--data", notADirectory, "--port", "0"]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{process.CapturedOutput()}");
        Assert.Contains($"data directory '{notADirectory}' is a file, not a directory", process.StandardError, StringComparison.Ordinal);
        AssertNoStackTrace(process);
        Assert.Equal("not a directory", await File.ReadAllTextAsync(notADirectory, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Data_directory_under_a_regular_file_exits_1_with_a_clear_message()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var file = temporary.Combine("file");
        await File.WriteAllTextAsync(file, "x", TestContext.Current.CancellationToken);

        await using var process = IroncladProcess.Start(["server", "--data", Path.Combine(file, "data"), "--port", "0"]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{process.CapturedOutput()}");
        Assert.Contains("cannot create data directory", process.StandardError, StringComparison.Ordinal);
        AssertNoStackTrace(process);
    }

    [Fact]
    public async Task Second_server_on_the_same_data_directory_fails_clearly_and_the_first_keeps_serving()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("data");
        await using var first = await IroncladServer.StartAsync(dataDirectory, cancellationToken: TestContext.Current.CancellationToken);
        var endpointsBefore = await File.ReadAllBytesAsync(first.EndpointsPath, TestContext.Current.CancellationToken);

        await using var second = IroncladProcess.Start(["server", "--data", dataDirectory, "--port", "0"]);
        var exitCode = await second.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{second.CapturedOutput()}");
        Assert.Contains($"data directory '{dataDirectory}' is in use by another ironclad server", second.StandardError, StringComparison.Ordinal);
        AssertNoStackTrace(second);
        Assert.Equal(endpointsBefore, await File.ReadAllBytesAsync(first.EndpointsPath, TestContext.Current.CancellationToken));
        using var client = first.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static void AssertNoStackTrace(IroncladProcess process)
    {
        Assert.DoesNotContain("   at ", process.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", process.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", process.StandardError, StringComparison.Ordinal);
    }
}
