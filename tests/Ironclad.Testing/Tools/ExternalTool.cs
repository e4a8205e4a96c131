// An external program a test drives (qemu-img, nbdinfo, node, ...): found on PATH, run with an
// argument list (never a shell string), stdout and stderr captured. Invariants: every run has a
// timeout, after which the process tree is killed; every failure message quotes the command line,
// the exit code and both outputs. A missing tool skips the test with the reason, except when
// IRONCLAD_REQUIRE_TOOLS=1 (CI), where it fails naming the tool: CI never skips silently.
using Xunit.v3;

namespace Ironclad.Testing.Tools;

public sealed class ExternalTool
{
    /// <summary>Set to 1 (CI does) to turn "tool missing, skipped" into a failure.</summary>
    public const string RequireToolsVariable = "IRONCLAD_REQUIRE_TOOLS";

    /// <summary>For a run that does not say: generous for a loaded two-core CI machine.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private ExternalTool(string name, string path)
    {
        Name = name;
        Path = path;
    }

    /// <summary>The name looked up, e.g. "qemu-img".</summary>
    public string Name { get; }

    /// <summary>Absolute path of the executable found.</summary>
    public string Path { get; }

    /// <summary>Whether a missing tool fails the test (IRONCLAD_REQUIRE_TOOLS=1) rather than skipping it.</summary>
    public static bool ToolsRequired => Environment.GetEnvironmentVariable(RequireToolsVariable) == "1";

    /// <summary>The first executable file named <paramref name="name"/> on PATH, or null.</summary>
    public static ExternalTool? TryFind(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains(System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return IsExecutableFile(name) ? new ExternalTool(System.IO.Path.GetFileName(name), System.IO.Path.GetFullPath(name)) : null;
        }

        var searchPath = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var directory in searchPath.Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var fileName in CandidateFileNames(name))
            {
                var candidate = System.IO.Path.Combine(directory, fileName);
                if (IsExecutableFile(candidate))
                {
                    return new ExternalTool(name, System.IO.Path.GetFullPath(candidate));
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The tool, or (when it is not on PATH) a skipped test with the reason, or a failed test
    /// naming the tool when <see cref="RequireToolsVariable"/> is 1.
    /// </summary>
    /// <param name="installHint">How to get it, for the message, e.g. "Debian package qemu-utils".</param>
    public static ExternalTool Require(string name, string? installHint = null) =>
        TryFind(name) ?? throw Unavailable(name, $"external tool '{name}' is not on PATH" + (installHint is null ? string.Empty : $" ({installHint})"));

    /// <summary>
    /// The exception that skips the test because <paramref name="name"/> cannot be used (or, with
    /// <see cref="RequireToolsVariable"/>=1, fails it): for a tool that is on PATH but unusable,
    /// e.g. a script whose interpreter lacks a module.
    /// </summary>
    public static ExternalToolMissingException Unavailable(string name, string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(reason);
        return ToolsRequired
            ? new ExternalToolMissingException($"{reason}; {RequireToolsVariable}=1, so a missing tool is a failure, not a skip.", name)
            // xunit v3's contract for a dynamic skip: an exception whose message starts with this token.
            : new ExternalToolMissingException($"{DynamicSkipToken.Value}{reason} (set {RequireToolsVariable}=1 to fail instead)", name);
    }

    /// <summary>Runs the tool to its end and returns what it did, whatever the exit code (see <see cref="ToolResult.EnsureSuccess"/>).</summary>
    /// <exception cref="TimeoutException">It ran past <paramref name="timeout"/>; it was killed, and the message has its output.</exception>
    /// <param name="environment">Variables to set (or, with a null value, remove) for this run only.</param>
    public async Task<ToolResult> RunAsync(
        IEnumerable<string> arguments, TimeSpan? timeout = null, IReadOnlyDictionary<string, string?>? environment = null,
        CancellationToken cancellationToken = default)
    {
        await using var run = Start(arguments, environment: environment);
        return await run.WaitForExitAsync(timeout ?? DefaultTimeout, cancellationToken);
    }

    /// <summary>Starts the tool and returns at once (for a test that kills it, or runs several together); dispose kills it.</summary>
    /// <param name="environment">Variables to set (or, with a null value, remove) for this run only.</param>
    public ToolRun Start(IEnumerable<string> arguments, string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        return ToolRun.Start(this, [.. arguments], workingDirectory, environment);
    }

    public override string ToString() => $"{Name} ({Path})";

    private static IEnumerable<string> CandidateFileNames(string name)
    {
        yield return name;
        if (OperatingSystem.IsWindows() && !name.EndsWith(".exe", StringComparison.OrdinalIgnoreCase))
        {
            yield return name + ".exe";
        }
    }

    private static bool IsExecutableFile(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (File.GetUnixFileMode(path) & AnyExecute) != 0;
    }
}

/// <summary>A required external tool is missing. When skipping, the message carries xunit's dynamic-skip token.</summary>
public sealed class ExternalToolMissingException : Exception
{
    public ExternalToolMissingException()
    {
    }

    public ExternalToolMissingException(string message)
        : base(message)
    {
    }

    public ExternalToolMissingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ExternalToolMissingException(string message, string toolName)
        : base(message)
    {
        ToolName = toolName;
    }

    public string? ToolName { get; }
}
