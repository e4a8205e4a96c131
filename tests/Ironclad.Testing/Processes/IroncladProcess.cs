// One run of the real `ironclad` executable as a child process, with stdout and stderr captured
// line by line. Invariants: every wait is bounded and its failure message carries the captured
// output; disposing kills a process that is still running, so a failed test leaves no server.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Ironclad.Testing.Processes;

public sealed class IroncladProcess : IAsyncDisposable
{
    /// <summary>How long a command that should end by itself gets before the wait fails.</summary>
    public static readonly TimeSpan DefaultExitTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _standardOutput = new();
    private readonly StringBuilder _standardError = new();
    private readonly Lock _outputLock = new();

    private IroncladProcess(Process process, IReadOnlyList<string> arguments)
    {
        _process = process;
        Arguments = arguments;
    }

    public IReadOnlyList<string> Arguments { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Exit code; only once the process has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything written to stdout so far.</summary>
    public string StandardOutput
    {
        get
        {
            lock (_outputLock)
            {
                return _standardOutput.ToString();
            }
        }
    }

    /// <summary>Everything written to stderr so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_outputLock)
            {
                return _standardError.ToString();
            }
        }
    }

    /// <summary>Starts `dotnet ironclad.dll ARGUMENTS` in <paramref name="workingDirectory"/> (default: the temp directory).</summary>
    public static IroncladProcess Start(IEnumerable<string> arguments, string? workingDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var argumentList = arguments.ToList();
        var startInfo = new ProcessStartInfo(IroncladExecutable.LocateDotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        startInfo.ArgumentList.Add(IroncladExecutable.LocateAssembly());
        foreach (var argument in argumentList)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var result = new IroncladProcess(process, argumentList);
        process.OutputDataReceived += (_, e) => result.Append(result._standardOutput, e.Data);
        process.ErrorDataReceived += (_, e) => result.Append(result._standardError, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>Waits for the process to end (and its output to drain) and returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? DefaultExitTimeout;
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(limit);
        try
        {
            await _process.WaitForExitAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{Describe()} did not exit within {limit.TotalSeconds:0.#} s.\n{CapturedOutput()}");
        }

        return _process.ExitCode;
    }

    /// <summary>
    /// Waits until a stdout line satisfies <paramref name="match"/> and returns it. Fails (with the
    /// captured output) if the process exits first or <paramref name="timeout"/> passes.
    /// </summary>
    public async Task<string> WaitForOutputLineAsync(Func<string, bool> match, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(match);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var line = StandardOutput.Split('\n').FirstOrDefault(match);
            if (line is not null)
            {
                return line;
            }

            if (_process.HasExited)
            {
                // Let the output drain: the line may have been written just before the exit.
                await _process.WaitForExitAsync(cancellationToken);
                line = StandardOutput.Split('\n').FirstOrDefault(match);
                return line ?? throw new InvalidOperationException(
                    $"{Describe()} exited with code {_process.ExitCode} before printing the expected line.\n{CapturedOutput()}");
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException(
                    $"{Describe()} did not print the expected line within {timeout.TotalSeconds:0.#} s.\n{CapturedOutput()}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    /// <summary>Sends <paramref name="signal"/> (e.g. SIGTERM) to the process.</summary>
    public void Signal(PosixSignal signal) => PosixSignals.Send(_process.Id, signal);

    /// <summary>"ironclad server --data ... (pid 1234)", for failure messages.</summary>
    public string Describe() => $"`ironclad {string.Join(' ', Arguments)}` (pid {_process.Id})";

    /// <summary>The captured stderr and stdout, labelled, for failure messages.</summary>
    public string CapturedOutput() =>
        $"--- stderr ---\n{StandardError}--- stdout ---\n{StandardOutput}--- end ---";

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(DefaultExitTimeout);
                await _process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }
        catch (OperationCanceledException)
        {
            // Not even SIGKILL ended it in time; nothing more a test can do.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Append(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_outputLock)
        {
            target.Append(line).Append('\n');
        }
    }
}
