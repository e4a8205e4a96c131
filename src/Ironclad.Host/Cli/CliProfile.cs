// What `ironclad login` remembers: where the server is, which CA to trust, the tenant and
// subscription, and the service principal's client credentials (like `az login --service-principal`,
// which also keeps the secret). Invariant: the file is written atomically with mode 0600 and is
// never printed; commands read it to get a fresh token for each run.
using System.Text.Json;
using System.Text.Json.Serialization;
using Ironclad.Host.Data;

namespace Ironclad.Host.Cli;

/// <summary>A saved login.</summary>
/// <param name="Url">The control plane's HTTPS base URL (Resource Manager), e.g. https://127.0.0.1:8443.</param>
/// <param name="AuthorityHost">Where tokens come from (the same server in the embedded default).</param>
/// <param name="CaCertificate">PEM file of the CA the server's certificate must chain to.</param>
/// <param name="SubscriptionId">Null for a principal that logged in without one (it can still use `ad sp`).</param>
internal sealed record CliProfile(
    string Url, string AuthorityHost, string CaCertificate, string TenantId, string? SubscriptionId, string ClientId, string ClientSecret)
{
    /// <summary>`~/.ironclad/profile.json`, or IRONCLAD_PROFILE when set.</summary>
    public static string DefaultPath =>
        Environment.GetEnvironmentVariable("IRONCLAD_PROFILE") is { Length: > 0 } path
            ? path
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ironclad", "profile.json");

    public static CliProfile Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException("NotLoggedIn", $"No login profile at {path}: run 'ironclad login' first.");
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), CliJsonContext.Default.CliProfile) is { } profile && profile.IsComplete
                ? profile
                : throw new CliException("InvalidProfile", $"The login profile {path} is incomplete: run 'ironclad login' again.");
        }
        catch (JsonException)
        {
            throw new CliException("InvalidProfile", $"The login profile {path} is not valid JSON: run 'ironclad login' again.");
        }
    }

    /// <summary>The bootstrap administrator's credentials from a running server's endpoints.json.</summary>
    public static CliProfile FromEndpointsFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException("EndpointsNotFound", $"{path} does not exist: is the server running with that data directory?");
        }

        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        string Field(string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
                ? text
                : throw new CliException("InvalidEndpoints", $"{path} has no '{name}'.");
        var url = Field("url");
        return new CliProfile(
            url,
            root.TryGetProperty("authorityHost", out var authority) && authority.GetString() is { Length: > 0 } host ? host : url,
            Field("caCertificate"),
            Field("tenantId"),
            Field("subscriptionId"),
            Field("clientId"),
            Field("clientSecret"));
    }

    public void Save(string path)
    {
        UnixFileModes.CreateOwnerOnlyDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);

        AtomicFile.WriteOwnerOnly(path, JsonSerializer.SerializeToUtf8Bytes(this, CliJsonContext.Default.CliProfile));
    }

    [JsonIgnore]
    private bool IsComplete =>
        !string.IsNullOrEmpty(Url) && !string.IsNullOrEmpty(AuthorityHost) && !string.IsNullOrEmpty(CaCertificate)
        && !string.IsNullOrEmpty(TenantId) && !string.IsNullOrEmpty(ClientId)
        && !string.IsNullOrEmpty(ClientSecret);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(CliProfile))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
