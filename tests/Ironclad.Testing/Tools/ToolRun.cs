// One running external tool with stdout and stderr captured as they arrive. Invariants: stdin is
// closed at start (no tool waits on a terminal); every wait is bounded and a timeout kills the
// whole process tree; disposing kills a process still running, so a failed test leaves nothing.
using System.Diagnostics;
using System.Text;

namespace Ironclad.Testing.Tools;

public sealed class ToolRun : IAsyncDisposable
{
    /// <summary>After the process exits, how long its output pipes get to drain.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly Process _process;
    private readonly Stopwatch _elapsed;
    private readonly StringBuilder _standardOutput = new();
    private readonly StringBuilder _standardError = new();
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _outputLock = new();
    private bool _killed;

    private ToolRun(ExternalTool tool, IReadOnlyList<string> arguments, Process process)
    {
        Tool = tool;
        Arguments = arguments;
        _process = process;
        _elapsed = Stopwatch.StartNew();
    }

    public ExternalTool Tool { get; }

    public IReadOnlyList<string> Arguments { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Whether the test killed it (so a non-zero exit is expected).</summary>
    public bool WasKilled => _killed;

    /// <summary>The command line as a shell would need it, for messages.</summary>
    public string CommandLine => ToolResult.FormatCommandLine(Tool.Name, Arguments);

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

    internal static ToolRun Start(
        ExternalTool tool, IReadOnlyList<string> arguments, string? workingDirectory, IReadOnlyDictionary<string, string?>? environment)
    {
        var startInfo = new ProcessStartInfo(tool.Path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? System.IO.Path.GetTempPath(),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Messages are matched by tests: keep them in English whatever the machine's locale.
        startInfo.Environment["LC_ALL"] = "C";
        startInfo.Environment["LANG"] = "C";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var run = new ToolRun(tool, arguments, process);
        process.OutputDataReceived += (_, e) => run.Append(run._standardOutput, run._outputClosed, e.Data);
        process.ErrorDataReceived += (_, e) => run.Append(run._standardError, run._errorClosed, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return run;
    }

    /// <summary>Waits for the tool to end and returns its result, whatever the exit code.</summary>
    /// <exception cref="TimeoutException">Still running after <paramref name="timeout"/>: killed, and the message has its output.</exception>
    public async Task<ToolResult> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await KillAsync();
            throw new TimeoutException(
                $"`{CommandLine}` did not finish within {timeout.TotalSeconds:0.#} s and was killed.\n{ToolResult.FormatOutput(StandardOutput, StandardError)}");
        }

        await DrainAsync();
        return new ToolResult(CommandLine, _process.ExitCode, StandardOutput, StandardError, _elapsed.Elapsed);
    }

    /// <summary>SIGKILLs the process tree (a client dying mid-transfer) and waits for it to be gone.</summary>
    public async Task KillAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _killed = true;
                _process.Kill(entireProcessTree: true);
            }

            using var timeout = new CancellationTokenSource(ExternalTool.DefaultTimeout);
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        await DrainAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
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

    private async Task DrainAsync()
    {
        // The pipes close when the last holder exits; a grandchild that kept them open must not hang the test.
        var drained = Task.WhenAll(_outputClosed.Task, _errorClosed.Task);
        await Task.WhenAny(drained, Task.Delay(DrainTimeout));
    }

    private void Append(StringBuilder target, TaskCompletionSource closed, string? line)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }

        lock (_outputLock)
        {
            target.Append(line).Append('\n');
        }
    }
}
