// Reading the request bodies of disks, snapshots and images: typed accessors that answer a wrong
// type or value with a 400 naming the property. Invariant: nothing here trusts a client value
// without checking its JSON kind first, and read-only properties a client echoes back are ignored.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.Disks;

internal static class JsonBody
{
    public static JsonElement RequireObject(JsonElement? body) =>
        body is { ValueKind: JsonValueKind.Object } value
            ? value
            : throw new ArmException(400, "InvalidRequestContent", "The request content was invalid: a JSON object is required.");

    public static JsonElement? Property(JsonElement element, string name)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (property.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value.ValueKind == JsonValueKind.Null ? null : property.Value;
            }
        }

        return null;
    }

    public static JsonElement? OptionalObject(JsonElement element, string name, string path) =>
        Property(element, name) is { } value
            ? value.ValueKind == JsonValueKind.Object ? value : throw new ArmException(400, "InvalidParameter", $"{path}.{name} must be an object.")
            : null;

    public static string? OptionalString(JsonElement element, string name, string path) =>
        Property(element, name) is { } value
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw new ArmException(400, "InvalidParameter", $"{path}.{name} must be a string.")
            : null;

    public static long? OptionalInt64(JsonElement element, string name, string path)
    {
        if (Property(element, name) is not { } value)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number))
        {
            return number;
        }

        if (value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out number))
        {
            return number;
        }

        throw new ArmException(400, "InvalidParameter", $"{path}.{name} must be an integer.");
    }

    public static bool? OptionalBool(JsonElement element, string name, string path) =>
        Property(element, name) is { } value
            ? value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new ArmException(400, "InvalidParameter", $"{path}.{name} must be true or false."),
            }
            : null;

    /// <summary>{"id": "..."} under <paramref name="name"/>, or null.</summary>
    public static string? OptionalIdReference(JsonElement element, string name, string path) =>
        OptionalObject(element, name, path) is { } reference ? OptionalString(reference, "id", $"{path}.{name}") : null;

    public static string RequireLocation(JsonElement body) =>
        OptionalString(body, "location", "body") is { Length: > 0 } location
            ? location
            : throw new ArmException(400, "LocationRequired", "The location property is required for this definition.");

    /// <summary>The tags object (empty when absent), checked to be string values.</summary>
    public static JsonObject Tags(JsonElement body)
    {
        if (Property(body, "tags") is not { } tags)
        {
            return [];
        }

        if (tags.ValueKind != JsonValueKind.Object || tags.EnumerateObject().Any(t => t.Value.ValueKind != JsonValueKind.String))
        {
            throw new ArmException(400, "InvalidRequestContent", "tags must be an object of string values.");
        }

        return JsonNode.Parse(tags.GetRawText())!.AsObject();
    }

    public static bool HasProperty(JsonElement body, string name) => body.EnumerateObject().Any(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>zones as a JSON array of strings, or null.</summary>
    public static string? Zones(JsonElement body)
    {
        if (Property(body, "zones") is not { } zones)
        {
            return null;
        }

        if (zones.ValueKind != JsonValueKind.Array || zones.EnumerateArray().Any(z => z.ValueKind != JsonValueKind.String))
        {
            throw new ArmException(400, "InvalidParameter", "zones must be an array of strings, e.g. [\"1\"].");
        }

        return zones.GetArrayLength() == 0 ? null : zones.GetRawText();
    }
}
