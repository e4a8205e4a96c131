// The real NBD clients, one method per thing a test asks of them. Every call finds its tool on
// PATH first (missing: skipped, or failed under IRONCLAD_REQUIRE_TOOLS=1), has a timeout, and
// returns the ToolResult so the test decides whether success or failure was expected; the
// *Json/*Map helpers demand success and parse. Commands are argument lists, never shell strings.
using System.Globalization;
using System.Text.Json;
using Ironclad.Testing.Tools;

namespace Ironclad.Interop.Tests.Support;

/// <summary>One line of `nbdinfo --map --json`: base:allocation state 0 is data, 3 is hole+zero.</summary>
internal sealed record MapExtent(long Offset, long Length, int Type, string Description)
{
    public long End => Offset + Length;

    public bool IsHole => (Type & 1) != 0;

    public bool ReadsAsZero => (Type & 2) != 0;
}

internal static class NbdClients
{
    public const string QemuImg = "qemu-img";
    public const string QemuIo = "qemu-io";
    public const string NbdInfo = "nbdinfo";
    public const string NbdCopy = "nbdcopy";
    public const string NbdSh = "nbdsh";

    /// <summary>For one client call; a hung client fails the test instead of the whole run.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static Task<string?>? _nbdShPython;

    /// <summary>Skips (or, in CI, fails) the test now unless every named client is installed.</summary>
    public static void Require(params string[] tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        foreach (var tool in tools)
        {
            _ = Find(tool);
        }
    }

    public static ExternalTool Find(string tool) => ExternalTool.Require(tool, InstallHint(tool));

    /// <summary>`qemu-io -c COMMAND...` against the export; with <paramref name="readOnly"/> opens it with -r.</summary>
    public static Task<ToolResult> QemuIoAsync(NbdEndpoint endpoint, IEnumerable<string> commands, bool readOnly = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(commands);
        var arguments = new List<string>(endpoint.QemuObjectArguments);
        if (readOnly)
        {
            arguments.Add("-r");
        }

        foreach (var command in commands)
        {
            arguments.AddRange(["-c", command]);
        }

        arguments.AddRange(endpoint.QemuImageArguments);
        return Find(QemuIo).RunAsync(arguments, Timeout, cancellationToken: cancellationToken);
    }

    /// <summary>`qemu-img info --output=json`.</summary>
    public static Task<ToolResult> QemuImgInfoAsync(NbdEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return Find(QemuImg).RunAsync(["info", "--output=json", .. endpoint.QemuObjectArguments, .. endpoint.QemuImageArguments], Timeout, cancellationToken: cancellationToken);
    }

    /// <summary>Arguments of `qemu-img convert -n` from a raw file into the export, optionally rate-limited (bytes per second).</summary>
    public static IReadOnlyList<string> QemuImgConvertToExportArguments(string sourceFile, NbdEndpoint endpoint, long? rateLimitBytesPerSecond = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var arguments = new List<string> { "convert", "-n" };
        if (rateLimitBytesPerSecond is { } rate)
        {
            arguments.AddRange(["-r", rate.ToString(CultureInfo.InvariantCulture)]);
        }

        arguments.AddRange(endpoint.QemuObjectArguments);
        arguments.AddRange(["-f", "raw", sourceFile]);
        arguments.AddRange(endpoint.QemuConvertTargetArguments);
        return arguments;
    }

    /// <summary>`qemu-img convert -n -f raw FILE EXPORT`: the file's bytes at the start of the export (-n: the export exists).</summary>
    public static Task<ToolResult> QemuImgConvertToExportAsync(string sourceFile, NbdEndpoint endpoint, CancellationToken cancellationToken = default) =>
        Find(QemuImg).RunAsync(QemuImgConvertToExportArguments(sourceFile, endpoint), Timeout, cancellationToken: cancellationToken);

    /// <summary>`qemu-img convert EXPORT -O raw FILE`: the whole export into a new raw file.</summary>
    public static Task<ToolResult> QemuImgConvertFromExportAsync(NbdEndpoint endpoint, string destinationFile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return Find(QemuImg).RunAsync(
            ["convert", .. endpoint.QemuObjectArguments, .. endpoint.QemuImageArguments, "-O", "raw", destinationFile], Timeout, cancellationToken: cancellationToken);
    }

    /// <summary>`nbdinfo OPTIONS... URI`.</summary>
    public static Task<ToolResult> NbdInfoAsync(NbdEndpoint endpoint, IEnumerable<string> options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        return Find(NbdInfo).RunAsync([.. options, endpoint.LibnbdUri], Timeout, cancellationToken: cancellationToken);
    }

    /// <summary>`nbdinfo --json URI`'s single export object (must succeed).</summary>
    public static async Task<JsonElement> NbdInfoExportJsonAsync(NbdEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        var result = (await NbdInfoAsync(endpoint, ["--json"], cancellationToken)).EnsureSuccess("nbdinfo --json");
        using var document = ParseJson(result);
        var exports = document.RootElement.GetProperty("exports");
        Assert.True(exports.GetArrayLength() == 1, $"nbdinfo listed {exports.GetArrayLength()} exports.\n{result.Describe()}");
        return exports[0].Clone();
    }

    /// <summary>`nbdinfo --map --json URI` (base:allocation), must succeed.</summary>
    public static async Task<IReadOnlyList<MapExtent>> NbdInfoMapAsync(NbdEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        var result = (await NbdInfoAsync(endpoint, ["--map", "--json"], cancellationToken)).EnsureSuccess("nbdinfo --map");
        using var document = ParseJson(result);
        return [.. document.RootElement.EnumerateArray().Select(e => new MapExtent(
            e.GetProperty("offset").GetInt64(), e.GetProperty("length").GetInt64(), e.GetProperty("type").GetInt32(), e.GetProperty("description").GetString() ?? string.Empty))];
    }

    /// <summary>
    /// `nbdcopy [--connections=N --threads=N] SOURCE DESTINATION`; each side a file path or a libnbd
    /// URI. nbdcopy opens no more connections than threads (default: one per core), so both are set.
    /// </summary>
    public static Task<ToolResult> NbdCopyAsync(string source, string destination, int? connections = null, CancellationToken cancellationToken = default)
    {
        var arguments = new List<string>();
        if (connections is { } count)
        {
            arguments.Add(string.Create(CultureInfo.InvariantCulture, $"--connections={count}"));
            arguments.Add(string.Create(CultureInfo.InvariantCulture, $"--threads={count}"));
        }

        arguments.AddRange([source, destination]);
        return Find(NbdCopy).RunAsync(arguments, Timeout, cancellationToken: cancellationToken);
    }

    /// <summary>`nbdsh -u URI -c SCRIPT`: Python with `h` a libnbd handle already connected (and `nbd` imported).</summary>
    public static async Task<ToolResult> NbdShAsync(NbdEndpoint endpoint, string script, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var nbdsh = Find(NbdSh);
        // Found once per run; two racing first callers may both look, which is harmless.
        var python = await LazyInitializer.EnsureInitialized(ref _nbdShPython, FindNbdShPythonAsync);
        if (python is null)
        {
            throw ExternalTool.Unavailable(NbdSh, $"nbdsh runs `python3 -m nbd`, and no python3 on PATH can import nbd ({InstallHint(NbdSh)})");
        }

        // nbdsh execs the first python3 on PATH; put the one that has the module first (a pyenv or
        // virtualenv python3 ahead of the system one would otherwise break it).
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        var environment = new Dictionary<string, string?> { ["PATH"] = Path.GetDirectoryName(python) + Path.PathSeparator + path };
        return await nbdsh.RunAsync(["-u", endpoint.LibnbdUri, "-c", script], Timeout, environment, cancellationToken);
    }

    /// <summary>The first python3 on PATH that can import libnbd's `nbd` module, or null.</summary>
    private static async Task<string?> FindNbdShPythonAsync()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal))
        {
            if (ExternalTool.TryFind(Path.Combine(directory, "python3")) is not { } python)
            {
                continue;
            }

            var result = await python.RunAsync(["-c", "import nbd"], TimeSpan.FromSeconds(30));
            if (result.Succeeded)
            {
                return python.Path;
            }
        }

        return null;
    }

    private static JsonDocument ParseJson(ToolResult result)
    {
        try
        {
            return JsonDocument.Parse(result.StandardOutput);
        }
        catch (JsonException e)
        {
            throw new ToolFailedException($"output is not JSON ({e.Message}): {result.Describe()}", result);
        }
    }

    private static string InstallHint(string tool) => tool switch
    {
        QemuImg or QemuIo => "Debian package qemu-utils",
        NbdInfo or NbdCopy => "Debian package libnbd-bin",
        NbdSh => "Debian package python3-libnbd",
        _ => "see .ci/run for what CI installs",
    };
}
