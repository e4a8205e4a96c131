// The CLI's login profile: where the server is, which CA to trust, and the client credentials and
// current access token, in PROFILE/profile.json (directory 0700, file 0600; default ~/.ironclad).
// Invariant: the file is written atomically and owner-only, since it holds a client secret and a
// token; nothing else in the CLI writes credentials anywhere.
using System.Text.Json;
using System.Text.Json.Serialization;
using Ironclad.Host.Data;

namespace Ironclad.Host.Cli;

internal sealed record CliProfile(
    string Url, string AuthorityHost, string TenantId, string? SubscriptionId, string ClientId, string ClientSecret,
    string? CaCertificate, string? AccessToken, DateTimeOffset? ExpiresOn)
{
    public const string FileName = "profile.json";

    /// <summary>--profile DIR, else $IRONCLAD_PROFILE, else ~/.ironclad.</summary>
    public static string ResolveDirectory(string? option) =>
        Path.GetFullPath(!string.IsNullOrEmpty(option) ? option
            : Environment.GetEnvironmentVariable("IRONCLAD_PROFILE") is { Length: > 0 } fromEnvironment ? fromEnvironment
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ironclad"));

    public static CliProfile? TryLoad(string directory)
    {
        var path = Path.Combine(directory, FileName);
        return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllBytes(path), CliJsonContext.Default.CliProfile) : null;
    }

    public void Save(string directory)
    {
        UnixFileModes.CreateOwnerOnlyDirectory(directory);
        AtomicFile.WriteOwnerOnly(Path.Combine(directory, FileName), JsonSerializer.SerializeToUtf8Bytes(this, CliJsonContext.Default.CliProfile));
    }
}

/// <summary>The subset of endpoints.json `ironclad login` reads.</summary>
internal sealed record EndpointsDocument(
    string? Url, string? CaCertificate, string? TenantId, string? SubscriptionId, string? AuthorityHost, string? ClientId, string? ClientSecret);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CliProfile))]
[JsonSerializable(typeof(EndpointsDocument))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(Dictionary<string, string?>))]
[JsonSerializable(typeof(Dictionary<string, object?>))]
[JsonSerializable(typeof(DateTimeOffset))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(string))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
