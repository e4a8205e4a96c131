// Options and the error boundary shared by the client commands (`login`, `ad`, later `group`,
// `keyvault`, ...): --profile, --output table|json, and one place that turns a failure into
// "ironclad: error: CODE: message" on stderr with exit 1 (3 for not found).
using System.CommandLine;
using System.Text.Json;
using Ironclad.Host.Cli;

namespace Ironclad.Host.Commands;

internal enum OutputFormat
{
    Json,
    Table,
}

internal static class CliOptions
{
    public static Option<string> Profile() => new("--profile")
    {
        Description = "Profile directory holding profile.json (default: $IRONCLAD_PROFILE or ~/.ironclad).",
        HelpName = "DIR",
    };

    public static Option<OutputFormat> Output() => new("--output", "-o")
    {
        Description = "Output format.",
        DefaultValueFactory = _ => OutputFormat.Json,
    };

    /// <summary>Runs a client command's body; maps failures to stderr and an exit code.</summary>
    public static async Task<int> RunAsync(TextWriter error, Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"ironclad: error: {e.Message}");
            return e.ExitCode;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"ironclad: error: cannot reach the server: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or TaskCanceledException)
        {
            await error.WriteLineAsync($"ironclad: error: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    /// <summary>Writes <paramref name="value"/> as indented JSON, or as a table of <paramref name="columns"/> (one row per array item).</summary>
    public static async Task WriteAsync(TextWriter output, JsonElement value, OutputFormat format, params string[] columns)
    {
        if (format == OutputFormat.Json || columns.Length == 0)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(value, CliJsonContext.Default.Options.GetTypeInfo(typeof(JsonElement))));
            return;
        }

        var rows = (value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToList() : [value])
            .Select(item => columns.Select(c => item.ValueKind == JsonValueKind.Object && item.TryGetProperty(c, out var cell) ? CellText(cell) : "").ToArray())
            .ToList();
        var widths = columns.Select((c, i) => Math.Max(c.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        await output.WriteLineAsync(string.Join("  ", columns.Select((c, i) => Capitalize(c).PadRight(widths[i]))).TrimEnd());
        await output.WriteLineAsync(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in rows)
        {
            await output.WriteLineAsync(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }
    }

    private static string CellText(JsonElement cell) => cell.ValueKind switch
    {
        JsonValueKind.String => cell.GetString() ?? "",
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        _ => cell.GetRawText(),
    };

    private static string Capitalize(string name) => name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name[1..];
}
