// A test's view of DIR/endpoints.json, read the way an external tool would: by field name from
// the JSON object, with the whole object kept so tests of later fields (nbd, tenantId, ...) can
// read them without changing this type.
using System.Text.Json;

namespace Ironclad.Testing.Processes;

public sealed record ServerEndpointsFile(Uri Url, string CaCertificate, int Pid, JsonElement Json)
{
    public const string FileName = "endpoints.json";

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
