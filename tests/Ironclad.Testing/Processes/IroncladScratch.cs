// A running `ironclad dev serve-scratch` child process: one throw-away volume served as NBD export
// `scratch` on 127.0.0.1. StartAsync uses --nbd-port 0 unless told otherwise and returns once the
// process prints its ready line, whose URI (with the real port) a client can use at once.
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Ironclad.Testing.Processes;

public sealed partial class IroncladScratch : IAsyncDisposable
{
    private IroncladScratch(IroncladProcess process, Uri uri, string readyLine)
    {
        Process = process;
        Uri = uri;
        ReadyLine = readyLine;
    }

    public IroncladProcess Process { get; }

    /// <summary>nbd://127.0.0.1:PORT/scratch, or nbds://... with TLS.</summary>
    public Uri Uri { get; }

    public int Port => Uri.Port;

    public string ReadyLine { get; }

    /// <summary>Runs `ironclad dev serve-scratch --size-gb 1 --nbd-port 0 EXTRA...` (defaults only where EXTRA does not set them) and waits for the ready line.</summary>
    public static async Task<IroncladScratch> StartAsync(
        IEnumerable<string>? extraArguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var extra = extraArguments?.ToList() ?? [];
        var arguments = new List<string> { "dev", "serve-scratch" };
        if (!extra.Contains("--size-gb"))
        {
            arguments.AddRange(["--size-gb", "1"]);
        }

        if (!extra.Contains("--nbd-port"))
        {
            arguments.AddRange(["--nbd-port", "0"]);
        }

        arguments.AddRange(extra);
        var process = IroncladProcess.Start(arguments);
        try
        {
            var line = await process.WaitForOutputLineAsync(
                text => ReadyLinePattern().IsMatch(text), timeout ?? IroncladServer.DefaultStartTimeout, cancellationToken);
            return new IroncladScratch(process, new Uri(ReadyLinePattern().Match(line).Groups["uri"].Value), line);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends SIGTERM and returns the exit code; fails (with the output) if it takes too long.</summary>
    public Task<int> StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (!Process.HasExited)
        {
            Process.Signal(PosixSignal.SIGTERM);
        }

        return Process.WaitForExitAsync(timeout ?? IroncladServer.DefaultStopTimeout, cancellationToken);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();

    [GeneratedRegex(@"^serving (?<uri>nbds?://127\.0\.0\.1:[0-9]+/scratch)\b")]
    private static partial Regex ReadyLinePattern();
}
