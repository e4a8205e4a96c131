// How CLI commands print results: `--output json` (the default, like az) prints the service's
// JSON as is, indented; `--output table` prints chosen columns through Spectre.Console without
// colour or ANSI codes, so scripts and tests can read either. Secrets never pass through here.
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Ironclad.Host.Cli;

internal enum OutputFormat
{
    Json,
    Table,
}

/// <summary>A table column: a header and how to read the cell from an item.</summary>
internal sealed record Column(string Header, Func<JsonNode?, string?> Read)
{
    /// <summary>A column reading a dotted path such as "properties.vaultUri".</summary>
    public static Column Path(string header, string path) => new(header, item => CliOutput.Select(item, path));
}

internal static class CliOutput
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void Write(TextWriter output, OutputFormat format, JsonNode? result, IReadOnlyList<Column> columns)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (format == OutputFormat.Json)
        {
            output.WriteLine(result is null ? "" : result.ToJsonString(Indented));
            return;
        }

        var items = result is JsonArray array ? array.ToList() : result is null ? [] : [result];
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 400;
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(column.Header)).NoWrap());
        }

        foreach (var item in items)
        {
            table.AddRow([.. columns.Select(c => new Text(c.Read(item) ?? ""))]);
        }

        console.Write(table);
    }

    /// <summary>The value at a dotted path ("properties.sku.name"), as text; arrays and objects as compact JSON.</summary>
    public static string? Select(JsonNode? node, string path)
    {
        foreach (var segment in path.Split('.'))
        {
            node = node is JsonObject obj && obj.TryGetPropertyValue(segment, out var child) ? child : null;
        }

        return node switch
        {
            null => null,
            JsonValue value when value.TryGetValue<string>(out var text) => text,
            _ => node.ToJsonString(),
        };
    }
}
