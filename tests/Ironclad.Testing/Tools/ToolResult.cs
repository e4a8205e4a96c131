// What one run of an external tool did: exit code, both outputs, how long it took. Tests assert on
// it through EnsureSuccess / EnsureFailure, whose messages always carry the command line and both
// outputs, so a failure in CI can be diagnosed from the log alone.
using System.Globalization;
using System.Text;

namespace Ironclad.Testing.Tools;

public sealed record ToolResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Returns this result if the tool exited 0; otherwise throws with the command line and both outputs.</summary>
    public ToolResult EnsureSuccess(string? context = null)
    {
        if (!Succeeded)
        {
            throw new ToolFailedException((context is null ? string.Empty : context + ": ") + $"expected success, got {Describe()}", this);
        }

        return this;
    }

    /// <summary>Returns this result if the tool exited non-zero; otherwise throws with the command line and both outputs.</summary>
    public ToolResult EnsureFailure(string? context = null)
    {
        if (Succeeded)
        {
            throw new ToolFailedException((context is null ? string.Empty : context + ": ") + $"expected a failure, got {Describe()}", this);
        }

        return this;
    }

    /// <summary>Both outputs, stderr first (where tools put their errors).</summary>
    public string CombinedOutput => StandardError + StandardOutput;

    /// <summary>"`cmd args` exited 1 after 0.3 s" followed by both outputs, labelled.</summary>
    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"`{CommandLine}` exited {ExitCode} after {Elapsed.TotalSeconds:0.00} s.\n")
        + FormatOutput(StandardOutput, StandardError);

    public override string ToString() => Describe();

    internal static string FormatOutput(string standardOutput, string standardError) =>
        $"--- stderr ---\n{standardError}--- stdout ---\n{standardOutput}--- end ---";

    /// <summary>Arguments quoted the way a POSIX shell would need them, so the line can be pasted to replay.</summary>
    public static string FormatCommandLine(string program, IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var builder = new StringBuilder(Quote(program));
        foreach (var argument in arguments)
        {
            builder.Append(' ').Append(Quote(argument));
        }

        return builder.ToString();
    }

    private static string Quote(string argument)
    {
        if (argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,@%+".Contains(c, StringComparison.Ordinal)))
        {
            return argument;
        }

        return "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}

/// <summary>A tool did not end the way the test needed; the message has the command line and both outputs.</summary>
public sealed class ToolFailedException : Exception
{
    public ToolFailedException()
    {
    }

    public ToolFailedException(string message)
        : base(message)
    {
    }

    public ToolFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ToolFailedException(string message, ToolResult result)
        : base(message)
    {
        Result = result;
    }

    public ToolResult? Result { get; }
}
