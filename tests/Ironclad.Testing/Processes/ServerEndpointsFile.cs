// A test's view of DIR/endpoints.json, read the way an external tool would: by field name from
// the JSON object, with the whole object kept so tests of later fields (nbd, tenantId, ...) can
// read them without changing this type.
using System.Net;
using System.Text.Json;

namespace Ironclad.Testing.Processes;

public sealed record ServerEndpointsFile(Uri Url, string CaCertificate, int Pid, JsonElement Json)
{
    public const string FileName = "endpoints.json";

    /// <summary>The `nbd` field ("127.0.0.1:10809", "[::1]:10809"), or null if the file has none.</summary>
    public string? Nbd => Json.TryGetProperty("nbd", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>The `nbd` field parsed; throws <see cref="FormatException"/> if it is missing or malformed.</summary>
    public IPEndPoint NbdEndPoint => Nbd is { } text && IPEndPoint.TryParse(text, out var endPoint) && endPoint.Port != 0
        ? endPoint
        : throw new FormatException($"endpoints.json has no usable 'nbd' HOST:PORT: {Json}");

    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    /// <summary>Parses the file; throws <see cref="FormatException"/> naming the missing or malformed field.</summary>
    public static ServerEndpointsFile Read(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement.Clone();
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"{path} is not a JSON object: {root}");
        }

        return new ServerEndpointsFile(
            new Uri(RequiredString(root, "url", path), UriKind.Absolute),
            RequiredString(root, "caCertificate", path),
            root.TryGetProperty("pid", out var pid) && pid.TryGetInt32(out var value)
                ? value
                : throw new FormatException($"{path} has no integer 'pid': {root}"),
            root);
    }

    private static string RequiredString(JsonElement root, string name, string path) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : throw new FormatException($"{path} has no string '{name}': {root}");
}
