// Runs the official Azure SDKs for JavaScript (tests/sdk-js, pinned by package-lock.json) against a
// real server: `node tests/sdk-js/<script>.mjs` with NODE_EXTRA_CA_CERTS = the server's local CA (so
// TLS is verified for real, api-compat.md §0.2) and IRONCLAD_ENDPOINTS = its endpoints.json, which
// tests/sdk-js/common.mjs reads. Each script prints one JSON document as its last stdout line.
// Missing node or node_modules skips locally and fails in CI (IRONCLAD_REQUIRE_TOOLS=1).
using System.Text.Json;
using Ironclad.Testing.Processes;
using Ironclad.Testing.Tools;

namespace Ironclad.Testing.Node;

public static class NodeSdk
{
    /// <summary>Generous: a cold `node` start plus MSAL plus several HTTPS round trips on a loaded CI machine.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);

    /// <summary>tests/sdk-js of this checkout (found by walking up from the test binary).</summary>
    public static string ScriptsDirectory { get; } = FindScriptsDirectory();

    /// <summary>
    /// Runs <paramref name="script"/> (e.g. "identity-token.mjs") against <paramref name="endpoints"/>
    /// with extra <paramref name="environment"/> variables, and returns its exit code, outputs and the
    /// parsed JSON of its last stdout line. Does not throw for a non-zero exit: scripts report SDK
    /// errors as {"error":{...}} and exit 1, which tests of refusals assert on.
    /// </summary>
    public static async Task<NodeResult> RunAsync(
        string script, ServerEndpointsFile endpoints, string endpointsPath, IReadOnlyDictionary<string, string?>? environment = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(script);
        ArgumentNullException.ThrowIfNull(endpoints);
        var node = ExternalTool.Require("node", "Debian package nodejs");
        if (!Directory.Exists(Path.Combine(ScriptsDirectory, "node_modules", "@azure")))
        {
            throw ExternalTool.Unavailable("node_modules", $"the Azure SDK packages are not installed: run `npm ci` in {ScriptsDirectory}");
        }

        var variables = new Dictionary<string, string?>
        {
            ["NODE_EXTRA_CA_CERTS"] = endpoints.CaCertificate,
            ["IRONCLAD_ENDPOINTS"] = endpointsPath,
            // The SDKs must reach only our server: no proxy, no ambient Azure configuration.
            ["HTTPS_PROXY"] = null,
            ["https_proxy"] = null,
            ["AZURE_AUTHORITY_HOST"] = null,
            ["AZURE_CLIENT_ID"] = null,
            ["AZURE_CLIENT_SECRET"] = null,
            ["AZURE_TENANT_ID"] = null,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            variables[name] = value;
        }

        await using var run = node.Start([Path.Combine(ScriptsDirectory, script)], ScriptsDirectory, variables);
        var result = await run.WaitForExitAsync(timeout ?? DefaultTimeout, cancellationToken);
        var lastLine = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        JsonElement output;
        try
        {
            output = lastLine is null ? default : JsonDocument.Parse(lastLine).RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ToolFailedException($"{script} did not print JSON as its last line ({e.Message}): {result.Describe()}", result);
        }

        return new NodeResult(result, output);
    }

    private static string FindScriptsDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "sdk-js");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"No tests/sdk-js/package.json above {AppContext.BaseDirectory}.");
    }
}

/// <summary>One script run: the tool result and the JSON the script printed last.</summary>
public sealed record NodeResult(ToolResult Tool, JsonElement Output)
{
    public bool Succeeded => Tool.Succeeded && Output.ValueKind == JsonValueKind.Object && !Output.TryGetProperty("error", out _);

    /// <summary>The output, or a failure quoting the script's run (command line, both outputs).</summary>
    public JsonElement EnsureSuccess()
    {
        if (!Succeeded)
        {
            throw new ToolFailedException($"expected the SDK script to succeed: {Tool.Describe()}", Tool);
        }

        return Output;
    }

    /// <summary>The {"error":{...}} the script reported, or a failure if it succeeded.</summary>
    public JsonElement EnsureError()
    {
        if (Output.ValueKind != JsonValueKind.Object || !Output.TryGetProperty("error", out var error))
        {
            throw new ToolFailedException($"expected the SDK script to report an error: {Tool.Describe()}", Tool);
        }

        return error;
    }
}
