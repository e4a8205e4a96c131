// The real `ironclad dev serve-scratch` process: it prints its ready line, serves export `scratch`
// (plain NBD by default, TLS on request), exits 0 on SIGTERM/SIGINT, deletes its volume (its key
// died with it) and its temporary directory, and cleans up after a run that was killed.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Ironclad.Storage;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Host.Tests;

public sealed partial class ServeScratchTests
{
    [Theory]
    [InlineData(PosixSignal.SIGTERM)]
    [InlineData(PosixSignal.SIGINT)]
    public async Task Serves_export_scratch_and_exits_0_on_a_signal_removing_its_temporary_directory(PosixSignal signal)
    {
        await using var scratch = await IroncladScratch.StartAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("nbd", scratch.Uri.Scheme);
        Assert.Equal("/scratch", scratch.Uri.AbsolutePath);
        Assert.NotEqual(0, scratch.Port);
        await using (var probe = await NbdProbe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, scratch.Port), TestContext.Current.CancellationToken))
        {
            Assert.Equal(["scratch"], await probe.ListAsync(TestContext.Current.CancellationToken));
        }

        var directory = StoreDirectoryPattern().Match(scratch.Process.StandardOutput).Groups["directory"].Value;
        Assert.True(Directory.Exists(directory), $"no temporary store directory in the log\n{scratch.Process.CapturedOutput()}");

        scratch.Process.Signal(signal);
        var exitCode = await scratch.Process.WaitForExitAsync(IroncladServer.DefaultStopTimeout, TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{scratch.Process.CapturedOutput()}");
        Assert.Equal(string.Empty, scratch.Process.StandardError);
        Assert.False(Directory.Exists(Path.GetDirectoryName(directory)), "the temporary directory outlived serve-scratch");
    }

    [Fact]
    public async Task With_a_data_directory_the_volume_is_deleted_at_exit_and_the_directory_kept()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("scratch");
        await using var scratch = await IroncladScratch.StartAsync(
            ["--data", dataDirectory, "--size-gb", "3"], cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(File.Exists(Path.Combine(dataDirectory, "scratch-volume")));

        var exitCode = await scratch.StopAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{scratch.Process.CapturedOutput()}");
        Assert.Contains("3221225472 bytes", scratch.Process.StandardOutput, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDirectory, "scratch-volume")));
        using var store = VolumeStore.Open(Path.Combine(dataDirectory, "volumes"));
        Assert.Empty(store.List());
    }

    [Fact]
    public async Task A_killed_run_s_volume_is_deleted_by_the_next_run_on_the_same_directory()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("scratch");
        await using (var killed = await IroncladScratch.StartAsync(["--data", dataDirectory], cancellationToken: TestContext.Current.CancellationToken))
        {
            // Disposing kills it (SIGKILL): no clean-up runs.
        }

        await using var next = await IroncladScratch.StartAsync(["--data", dataDirectory], cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains("left by an earlier run", next.Process.StandardOutput, StringComparison.Ordinal);
        var exitCode = await next.StopAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{next.Process.CapturedOutput()}");
        using var store = VolumeStore.Open(Path.Combine(dataDirectory, "volumes"));
        Assert.Empty(store.List());
    }

    [Fact]
    public async Task Cipher_none_warns_loudly_on_stderr()
    {
        await using var scratch = await IroncladScratch.StartAsync(["--cipher", "none"], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Contains("WARNING", scratch.Process.StandardError, StringComparison.Ordinal);
        Assert.Contains("UNENCRYPTED", scratch.Process.StandardError, StringComparison.Ordinal);
        Assert.Contains("NULL cipher", scratch.Process.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(0, await scratch.StopAsync(cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Tls_required_serves_nbds_with_a_certificate_of_the_directory_s_ca()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("scratch");
        await using var scratch = await IroncladScratch.StartAsync(
            ["--data", dataDirectory, "--tls", "required"], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("nbds", scratch.Uri.Scheme);
        var caPath = Path.Combine(dataDirectory, "tls", "ca.pem");
        Assert.Contains(caPath, scratch.ReadyLine, StringComparison.Ordinal);
        await using (var probe = await NbdProbe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, scratch.Port), TestContext.Current.CancellationToken))
        {
            var refused = await probe.OptionAsync(NbdProbe.OptionList, [], TestContext.Current.CancellationToken);
            Assert.Equal(NbdProbe.ReplyErrorTlsRequired, Assert.Single(refused).Type);
            using var presented = await probe.StartTlsAsync(caPath, clientCertificate: null, TestContext.Current.CancellationToken);
            Assert.Equal(["scratch"], await probe.ListAsync(TestContext.Current.CancellationToken));
        }

        Assert.Equal(0, await scratch.StopAsync(cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Nbd_port_already_in_use_exits_1_with_a_clear_message()
    {
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        var port = ((IPEndPoint)occupier.LocalEndpoint).Port;

        await using var process = IroncladProcess.Start(
            ["dev", "serve-scratch", "--size-gb", "1", "--nbd-port", port.ToString(CultureInfo.InvariantCulture)]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{process.CapturedOutput()}");
        Assert.Equal($"ironclad: error: NBD port {port} on 127.0.0.1 is already in use\n", process.StandardError);
        Assert.DoesNotContain("   at ", process.StandardOutput, StringComparison.Ordinal);
        var directory = StoreDirectoryPattern().Match(process.StandardOutput).Groups["directory"].Value;
        Assert.False(string.IsNullOrEmpty(directory) || Directory.Exists(Path.GetDirectoryName(directory)), "the temporary directory outlived the failed start");
    }

    [Theory]
    [InlineData(new[] { "--nbd-port", "0" }, "--size-gb")]
    [InlineData(new[] { "--size-gb", "1" }, "--nbd-port")]
    [InlineData(new[] { "--size-gb", "0", "--nbd-port", "0" }, "'0'")]
    [InlineData(new[] { "--size-gb", "32769", "--nbd-port", "0" }, "'32769'")]
    [InlineData(new[] { "--size-gb", "1", "--nbd-port", "70000" }, "70000")]
    [InlineData(new[] { "--size-gb", "1", "--nbd-port", "0", "--cipher", "rot13" }, "'rot13'")]
    [InlineData(new[] { "--size-gb", "1", "--nbd-port", "0", "--tls", "maybe" }, "'maybe'")]
    [InlineData(new[] { "--size-gb", "1", "--nbd-port", "0", "--queue-depth", "0" }, "'0'")]
    public async Task Bad_arguments_exit_with_usage_code_2(string[] arguments, string expectedFragment)
    {
        await using var process = IroncladProcess.Start(["dev", "serve-scratch", .. arguments]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{process.CapturedOutput()}");
        Assert.Contains(expectedFragment, process.StandardError, StringComparison.Ordinal);
        Assert.Contains("ironclad dev serve-scratch --help", process.StandardError, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"Volume store (?<directory>\S+) opened")]
    private static partial Regex StoreDirectoryPattern();
}
