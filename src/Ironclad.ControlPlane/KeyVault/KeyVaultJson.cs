// The keys data plane's JSON, exactly as api-compat.md §1.5 describes the cloud's: snake_case key
// fields (key_ops, key_size), camelCase attributes, integer Unix-second times, base64url without
// padding on output (with or without on input), every kid built from the vault's own origin, and
// recoveryLevel/recoverableDays derived from the vault. Invariant: a malformed request (bad JSON, a
// wrong type, bad base64url) is a KeyVaultException 400 BadParameter raised before anything changes.
using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Ironclad.KeyVault;
using Ironclad.KeyVault.Keys;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.ControlPlane.KeyVault;

internal static class KeyVaultJson
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 16 };

    // ── Output ─────────────────────────────────────────────────────────────────────────────────

    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The vault's origin without its trailing slash, e.g. https://127.0.0.1:20000.</summary>
    public static string Origin(VaultRecord vault) => vault.VaultUri.GetLeftPart(UriPartial.Authority);

    public static string Kid(VaultRecord vault, string name, string version) => $"{Origin(vault)}/keys/{name}/{version}";

    public static string VersionlessKid(VaultRecord vault, string name) => $"{Origin(vault)}/keys/{name}";

    public static string RecoveryId(VaultRecord vault, string name) => $"{Origin(vault)}/deletedkeys/{name}";

    public static void KeyBundle(Utf8JsonWriter writer, VaultRecord vault, KeyVersion key)
    {
        writer.WriteStartObject();
        KeyBundleMembers(writer, vault, key);
        writer.WriteEndObject();
    }

    public static void DeletedKeyBundle(Utf8JsonWriter writer, VaultRecord vault, DeletedKey deleted)
    {
        writer.WriteStartObject();
        writer.WriteString("recoveryId", RecoveryId(vault, deleted.Key.Name));
        writer.WriteNumber("deletedDate", deleted.DeletedDate.ToUnixTimeSeconds());
        writer.WriteNumber("scheduledPurgeDate", deleted.ScheduledPurgeDate.ToUnixTimeSeconds());
        KeyBundleMembers(writer, vault, deleted.Key);
        writer.WriteEndObject();
    }

    /// <summary>A list item: versionless kid for key lists, versioned for a key's versions.</summary>
    public static void KeyItem(Utf8JsonWriter writer, VaultRecord vault, KeyVersion key, bool versioned)
    {
        writer.WriteStartObject();
        writer.WriteString("kid", versioned ? Kid(vault, key.Name, key.Version) : VersionlessKid(vault, key.Name));
        Attributes(writer, vault, key.Attributes);
        Tags(writer, key.Tags);
        if (key.Managed)
        {
            writer.WriteBoolean("managed", true);
        }

        writer.WriteEndObject();
    }

    public static void DeletedKeyItem(Utf8JsonWriter writer, VaultRecord vault, DeletedKey deleted)
    {
        writer.WriteStartObject();
        writer.WriteString("recoveryId", RecoveryId(vault, deleted.Key.Name));
        writer.WriteNumber("deletedDate", deleted.DeletedDate.ToUnixTimeSeconds());
        writer.WriteNumber("scheduledPurgeDate", deleted.ScheduledPurgeDate.ToUnixTimeSeconds());
        writer.WriteString("kid", VersionlessKid(vault, deleted.Key.Name));
        Attributes(writer, vault, deleted.Key.Attributes);
        Tags(writer, deleted.Key.Tags);
        if (deleted.Key.Managed)
        {
            writer.WriteBoolean("managed", true);
        }

        writer.WriteEndObject();
    }

    public static void Page<T>(Utf8JsonWriter writer, IReadOnlyList<T> items, string? nextLink, Action<Utf8JsonWriter, T> item)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("value");
        foreach (var entry in items)
        {
            item(writer, entry);
        }

        writer.WriteEndArray();
        if (nextLink is null)
        {
            writer.WriteNull("nextLink");
        }
        else
        {
            writer.WriteString("nextLink", nextLink);
        }

        writer.WriteEndObject();
    }

    public static void OperationResult(Utf8JsonWriter writer, VaultRecord vault, KeyOperationOutcome outcome)
    {
        writer.WriteStartObject();
        writer.WriteString("kid", Kid(vault, outcome.Key.Name, outcome.Key.Version));
        WriteBase64Url(writer, "value", outcome.Value);
        writer.WriteEndObject();
    }

    public static void VerifyResult(Utf8JsonWriter writer, KeyVerifyOutcome outcome)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("value", outcome.Valid);
        writer.WriteEndObject();
    }

    public static void BackupResult(Utf8JsonWriter writer, byte[] backup)
    {
        writer.WriteStartObject();
        WriteBase64Url(writer, "value", backup);
        writer.WriteEndObject();
    }

    public static void RotationPolicy(Utf8JsonWriter writer, VaultRecord vault, string name, RotationPolicy policy)
    {
        writer.WriteStartObject();
        writer.WriteString("id", $"{Origin(vault)}/keys/{name}/rotationpolicy");
        writer.WriteStartArray("lifetimeActions");
        foreach (var action in policy.LifetimeActions)
        {
            writer.WriteStartObject();
            writer.WriteStartObject("trigger");
            if (action.TimeAfterCreate is { } after)
            {
                writer.WriteString("timeAfterCreate", after);
            }

            if (action.TimeBeforeExpiry is { } before)
            {
                writer.WriteString("timeBeforeExpiry", before);
            }

            writer.WriteEndObject();
            writer.WriteStartObject("action");
            writer.WriteString("type", action.ActionType);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteStartObject("attributes");
        if (policy.ExpiryTime is { } expiry)
        {
            writer.WriteString("expiryTime", expiry);
        }

        if (policy.Created is { } created)
        {
            writer.WriteNumber("created", created.ToUnixTimeSeconds());
        }

        if (policy.Updated is { } updated)
        {
            writer.WriteNumber("updated", updated.ToUnixTimeSeconds());
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>{"error":{"code","message","innererror":{"code"}}} (innererror only when there is one).</summary>
    public static byte[] Error(string code, string message, string? innerCode) => Write(writer =>
    {
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("code", code);
        writer.WriteString("message", message);
        if (innerCode is not null)
        {
            writer.WriteStartObject("innererror");
            writer.WriteString("code", innerCode);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    });

    private static void KeyBundleMembers(Utf8JsonWriter writer, VaultRecord vault, KeyVersion key)
    {
        writer.WriteStartObject("key");
        writer.WriteString("kid", Kid(vault, key.Name, key.Version));
        writer.WriteString("kty", key.KeyType);
        writer.WriteStartArray("key_ops");
        foreach (var op in key.KeyOps)
        {
            writer.WriteStringValue(op);
        }

        writer.WriteEndArray();
        WriteBase64Url(writer, "n", TrimLeadingZeros(key.Modulus));
        WriteBase64Url(writer, "e", TrimLeadingZeros(key.PublicExponent));
        writer.WriteEndObject();
        Attributes(writer, vault, key.Attributes);
        Tags(writer, key.Tags);
        if (key.Managed)
        {
            writer.WriteBoolean("managed", true);
        }
    }

    private static void Attributes(Utf8JsonWriter writer, VaultRecord vault, KeyAttributes attributes)
    {
        writer.WriteStartObject("attributes");
        writer.WriteBoolean("enabled", attributes.Enabled);
        if (attributes.NotBefore is { } nbf)
        {
            writer.WriteNumber("nbf", nbf.ToUnixTimeSeconds());
        }

        if (attributes.Expires is { } exp)
        {
            writer.WriteNumber("exp", exp.ToUnixTimeSeconds());
        }

        writer.WriteNumber("created", attributes.Created.ToUnixTimeSeconds());
        writer.WriteNumber("updated", attributes.Updated.ToUnixTimeSeconds());
        writer.WriteString("recoveryLevel", KeyRecovery.Level(vault));
        if (KeyRecovery.Days(vault) is { } days)
        {
            writer.WriteNumber("recoverableDays", days);
        }

        writer.WriteBoolean("exportable", attributes.Exportable);
        writer.WriteEndObject();
    }

    private static void Tags(Utf8JsonWriter writer, IReadOnlyDictionary<string, string> tags)
    {
        if (tags.Count == 0)
        {
            return;
        }

        writer.WriteStartObject("tags");
        foreach (var (name, value) in tags)
        {
            writer.WriteString(name, value);
        }

        writer.WriteEndObject();
    }

    private static ReadOnlySpan<byte> TrimLeadingZeros(byte[] value)
    {
        var span = value.AsSpan();
        while (span.Length > 1 && span[0] == 0)
        {
            span = span[1..];
        }

        return span;
    }

    private static void WriteBase64Url(Utf8JsonWriter writer, string name, ReadOnlySpan<byte> value)
    {
        var length = Base64Url.GetEncodedLength(value.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = Base64Url.EncodeToUtf8(value, rented);
            writer.WriteString(name, rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // ── Input ──────────────────────────────────────────────────────────────────────────────────

    /// <summary>Parses a request body that must be a JSON object.</summary>
    public static JsonDocument ParseObject(ReadOnlyMemory<byte> body)
    {
        if (body.IsEmpty)
        {
            throw KeyVaultException.BadParameter("The request body is missing; this operation needs a JSON object.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException)
        {
            throw KeyVaultException.BadParameter("The request body is not valid JSON.");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw KeyVaultException.BadParameter("The request body must be a JSON object.");
        }

        return document;
    }

    /// <summary>A property by name (case-insensitive, like the service), or null when absent or JSON null.</summary>
    public static JsonElement? Property(JsonElement obj, string name)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (property.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value.ValueKind == JsonValueKind.Null ? null : property.Value;
            }
        }

        return null;
    }

    public static string? String(JsonElement obj, string name) => Property(obj, name) is { } value
        ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw Invalid(name, "a string")
        : null;

    public static string RequiredString(JsonElement obj, string name) =>
        String(obj, name) ?? throw KeyVaultException.BadParameter($"The property '{name}' is required.");

    public static bool? Boolean(JsonElement obj, string name) => Property(obj, name) is { } value
        ? value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(name, "true or false"),
        }
        : null;

    public static int? Int32(JsonElement obj, string name) => Property(obj, name) is { } value
        ? value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? number : throw Invalid(name, "an integer")
        : null;

    /// <summary>A Unix-seconds time (an integer or a number; the fraction is dropped).</summary>
    public static DateTimeOffset? UnixTime(JsonElement obj, string name)
    {
        if (Property(obj, name) is not { } value)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds) || double.IsNaN(seconds)
            || seconds < 0 || seconds > 253402300799)
        {
            throw Invalid(name, "a time in Unix seconds");
        }

        return DateTimeOffset.FromUnixTimeSeconds((long)Math.Floor(seconds));
    }

    public static IReadOnlyList<string>? StringList(JsonElement obj, string name)
    {
        if (Property(obj, name) is not { } value)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(name, "an array of strings");
        }

        var list = new List<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            list.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Invalid(name, "an array of strings"));
        }

        return list;
    }

    public static IReadOnlyDictionary<string, string>? Tags(JsonElement obj)
    {
        if (Property(obj, "tags") is not { } value)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("tags", "an object of string values");
        }

        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in value.EnumerateObject())
        {
            tags[property.Name] = property.Value.ValueKind == JsonValueKind.String
                ? property.Value.GetString()!
                : throw Invalid("tags", "an object of string values");
        }

        return tags;
    }

    /// <summary>base64url, with or without padding; anything else is 400 BadParameter.</summary>
    public static byte[]? Base64UrlBytes(JsonElement obj, string name)
    {
        if (Property(obj, name) is not { } value)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw Invalid(name, "a base64url string");
        }

        return DecodeBase64Url(value.GetString()!, name);
    }

    public static byte[] RequiredBase64UrlBytes(JsonElement obj, string name) =>
        Base64UrlBytes(obj, name) ?? throw KeyVaultException.BadParameter($"The property '{name}' is required.");

    public static byte[] DecodeBase64Url(string text, string name)
    {
        var unpadded = text.AsSpan().TrimEnd('=');
        if (text.Length - unpadded.Length > 2 || !Base64Url.IsValid(unpadded))
        {
            throw Invalid(name, "base64url");
        }

        try
        {
            return Base64Url.DecodeFromChars(unpadded);
        }
        catch (FormatException)
        {
            throw Invalid(name, "base64url");
        }
    }

    public static NewKeyAttributes? NewAttributes(JsonElement obj)
    {
        if (Property(obj, "attributes") is not { } attributes)
        {
            return null;
        }

        if (attributes.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("attributes", "an object");
        }

        return new NewKeyAttributes(Boolean(attributes, "enabled"), UnixTime(attributes, "nbf"), UnixTime(attributes, "exp"), Boolean(attributes, "exportable"));
    }

    public static CreateKeyRequest CreateRequest(JsonElement body)
    {
        if (Property(body, "release_policy") is not null)
        {
            throw KeyVaultException.BadParameter("Secure key release (release_policy) is not supported by this server.");
        }

        return new CreateKeyRequest(
            RequiredString(body, "kty"),
            Int32(body, "key_size"),
            Int32(body, "public_exponent"),
            StringList(body, "key_ops"),
            NewAttributes(body),
            Tags(body));
    }

    public static ImportKeyRequest ImportRequest(JsonElement body)
    {
        if (Property(body, "key") is not { } key)
        {
            throw KeyVaultException.BadParameter("The property 'key' (a JSON Web Key) is required.");
        }

        if (key.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("key", "a JSON Web Key object");
        }

        if (Property(key, "key_hsm") is not null)
        {
            throw KeyVaultException.BadParameter("BYOK transfer blobs (key_hsm) are not supported; import the private key as a JWK.");
        }

        var jwk = new JsonWebKeyInput(
            String(key, "kty"),
            Base64UrlBytes(key, "n"),
            Base64UrlBytes(key, "e"),
            Base64UrlBytes(key, "d"),
            Base64UrlBytes(key, "p"),
            Base64UrlBytes(key, "q"),
            Base64UrlBytes(key, "dp"),
            Base64UrlBytes(key, "dq"),
            Base64UrlBytes(key, "qi"),
            StringList(key, "key_ops"));
        return new ImportKeyRequest(jwk, Boolean(body, "hsm") ?? false, NewAttributes(body), Tags(body));
    }

    public static UpdateKeyRequest UpdateRequest(JsonElement body)
    {
        if (Property(body, "release_policy") is not null)
        {
            throw KeyVaultException.BadParameter("Secure key release (release_policy) is not supported by this server.");
        }

        bool? enabled = null;
        DateTimeOffset? nbf = null;
        DateTimeOffset? exp = null;
        if (Property(body, "attributes") is { } attributes)
        {
            if (attributes.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("attributes", "an object");
            }

            enabled = Boolean(attributes, "enabled");
            nbf = UnixTime(attributes, "nbf");
            exp = UnixTime(attributes, "exp");
        }

        return new UpdateKeyRequest(enabled, nbf, exp, StringList(body, "key_ops"), Tags(body));
    }

    public static RotationPolicy RotationPolicyRequest(JsonElement body)
    {
        var actions = new List<LifetimeAction>();
        if (Property(body, "lifetimeActions") is { } list)
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                throw Invalid("lifetimeActions", "an array");
            }

            foreach (var item in list.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object
                    || Property(item, "trigger") is not { ValueKind: JsonValueKind.Object } trigger
                    || Property(item, "action") is not { ValueKind: JsonValueKind.Object } action)
                {
                    throw KeyVaultException.BadParameter("Each lifetime action needs a 'trigger' object and an 'action' object.");
                }

                var type = RequiredString(action, "type");
                var canonical = type.ToLowerInvariant() switch
                {
                    "rotate" => "Rotate",
                    "notify" => "Notify",
                    _ => throw KeyVaultException.BadParameter($"The lifetime action type '{type}' is not valid; use Rotate or Notify."),
                };
                actions.Add(new LifetimeAction(canonical, String(trigger, "timeAfterCreate"), String(trigger, "timeBeforeExpiry")));
            }
        }

        string? expiryTime = null;
        if (Property(body, "attributes") is { } attributes)
        {
            if (attributes.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("attributes", "an object");
            }

            expiryTime = String(attributes, "expiryTime");
        }

        return new RotationPolicy(actions, expiryTime, null, null);
    }

    private static KeyVaultException Invalid(string name, string expected) =>
        KeyVaultException.BadParameter(string.Create(CultureInfo.InvariantCulture, $"The property '{name}' is not valid: expected {expected}."));
}
