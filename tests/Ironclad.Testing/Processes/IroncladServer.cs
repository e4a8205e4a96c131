// A running `ironclad server` child process on a given data directory, started with --port 0 and
// --nbd-port 0 (unless the caller names them) so parallel tests never clash. StartAsync returns only once endpoints.json names this process
// (its pid), which the server writes after its listener is bound: the URL is usable at once.
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;

namespace Ironclad.Testing.Processes;

public sealed class IroncladServer : IAsyncDisposable
{
    /// <summary>Generous for a cold `dotnet` start on a loaded two-core CI machine.</summary>
    public static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long SIGTERM may take to stop the server.</summary>
    public static readonly TimeSpan DefaultStopTimeout = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private IroncladServer(IroncladProcess process, string dataDirectory, ServerEndpointsFile endpoints)
    {
        Process = process;
        DataDirectory = dataDirectory;
        Endpoints = endpoints;
    }

    public IroncladProcess Process { get; }

    public string DataDirectory { get; }

    public ServerEndpointsFile Endpoints { get; }

    public string EndpointsPath => ServerEndpointsFile.PathIn(DataDirectory);

    /// <summary>
    /// Runs `ironclad server --data DIR --port 0 --nbd-port 0 EXTRA...` and waits for its endpoints.json. On
    /// failure (early exit, timeout) the process is killed and the exception carries its output.
    /// </summary>
    public static async Task<IroncladServer> StartAsync(
        string dataDirectory, IEnumerable<string>? extraArguments = null, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        var arguments = new List<string> { "server", "--data", dataDirectory };
        var extra = extraArguments?.ToList() ?? [];
        if (!extra.Contains("--port"))
        {
            arguments.AddRange(["--port", "0"]);
        }

        if (!extra.Contains("--nbd-port"))
        {
            arguments.AddRange(["--nbd-port", "0"]);
        }

        arguments.AddRange(extra);
        var process = IroncladProcess.Start(arguments);
        try
        {
            var endpoints = await WaitForEndpointsAsync(process, dataDirectory, timeout ?? DefaultStartTimeout, cancellationToken);
            return new IroncladServer(process, dataDirectory, endpoints);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>An HttpClient for this server that trusts only its generated CA.</summary>
    public HttpClient CreateHttpClient(Action<X509Certificate2>? onServerCertificate = null) =>
        CaTrust.CreateHttpClient(Endpoints.CaCertificate, Endpoints.Url, onServerCertificate);

    /// <summary>Sends SIGTERM and returns the exit code; fails (with the output) if it takes too long.</summary>
    public Task<int> StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (!Process.HasExited)
        {
            Process.Signal(PosixSignal.SIGTERM);
        }

        return Process.WaitForExitAsync(timeout ?? DefaultStopTimeout, cancellationToken);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();

    private static async Task<ServerEndpointsFile> WaitForEndpointsAsync(
        IroncladProcess process, string dataDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var path = ServerEndpointsFile.PathIn(dataDirectory);
        var deadline = DateTime.UtcNow + timeout;
        string? lastProblem = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (File.Exists(path))
            {
                try
                {
                    // A file left by an earlier server names another pid: keep waiting for ours.
                    var endpoints = ServerEndpointsFile.Read(path);
                    if (endpoints.Pid == process.Id)
                    {
                        return endpoints;
                    }

                    lastProblem = $"{path} names pid {endpoints.Pid}";
                }
                catch (Exception e) when (e is IOException or FormatException or System.Text.Json.JsonException)
                {
                    lastProblem = $"{path} could not be read: {e.Message}";
                }
            }

            if (process.HasExited)
            {
                // Let the output drain before quoting it.
                await process.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                throw new InvalidOperationException(
                    $"{process.Describe()} exited with code {process.ExitCode} before writing {path}.\n{process.CapturedOutput()}");
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException(
                    $"{process.Describe()} did not write {path} within {timeout.TotalSeconds:0.#} s"
                    + (lastProblem is null ? "." : $" ({lastProblem}).") + $"\n{process.CapturedOutput()}");
            }

            await Task.Delay(PollInterval, cancellationToken);
        }
    }
}
