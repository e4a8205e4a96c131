// `ironclad keyvault key ...`: the keys data plane, with az's command and option names
// (`az keyvault key create --vault-name V --name K --kty RSA --size 2048`, ...). The vault's URL comes
// from Resource Manager (properties.vaultUri); calls go there directly with a vault-audience token.
// Invariants: output is the vault's own JSON (key material never includes private parts; wrap/unwrap
// print only their result); a key file read for import, the token and the secret are never printed.
using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class KeyVaultKeyCommand
{
    private static readonly Column[] KeyColumns =
    [
        Column.Path("Kid", "key.kid"), Column.Path("Kty", "key.kty"), Column.Path("Enabled", "attributes.enabled"),
        Column.Path("Expires", "attributes.exp"), Column.Path("KeyOps", "key.key_ops"),
    ];

    private static readonly Column[] ItemColumns =
        [Column.Path("Kid", "kid"), Column.Path("Enabled", "attributes.enabled"), Column.Path("Updated", "attributes.updated"), Column.Path("Tags", "tags")];

    private static readonly Column[] DeletedColumns =
    [
        Column.Path("Kid", "kid"), Column.Path("RecoveryId", "recoveryId"), Column.Path("DeletedDate", "deletedDate"),
        Column.Path("ScheduledPurgeDate", "scheduledPurgeDate"),
    ];

    private static readonly Column[] OperationColumns =
        [Column.Path("Kid", "kid"), Column.Path("Algorithm", "algorithm"), Column.Path("Result", "result")];

    private static readonly Column[] PolicyColumns =
        [Column.Path("Id", "id"), Column.Path("LifetimeActions", "lifetimeActions"), Column.Path("ExpiryTime", "attributes.expiryTime")];

    public static Command Create() => Group(
        "key",
        "Manage keys in a key vault (the keys data plane).",
        CreateKey(), Import(), Show(), List(), ListVersions(), SetAttributes(), Rotate(), RotationPolicy(),
        Backup(), Restore(), Delete(), ShowDeleted(), ListDeleted(), Recover(), Purge(),
        KeyOperation("wrap", "wrapkey", "Wrap a key (e.g. a disk's data key) with a vault key."),
        KeyOperation("unwrap", "unwrapkey", "Unwrap a key wrapped by a vault key."),
        KeyOperation("encrypt", "encrypt", "Encrypt a small value with a vault key."),
        KeyOperation("decrypt", "decrypt", "Decrypt a value encrypted with a vault key."));

    // ── options shared with az ────────────────────────────────────────────────────────────────

    private static Option<string> VaultName() => Required("--vault-name", "--vault", "Name of the key vault.");

    private static Option<string> KeyName() => Required("--name", "-n", "Name of the key.");

    private static Option<string?> Version() => new("--version", "-v") { Description = "Key version (default: the latest)." };

    private static Option<string[]> Ops() => new("--ops")
    {
        Description = "Permitted operations, space-separated: encrypt decrypt sign verify wrapKey unwrapKey.",
        AllowMultipleArgumentsPerToken = true,
        Arity = ArgumentArity.OneOrMore,
    };

    private static Option<string?> Expires() => new("--expires") { Description = "Expiry date-time, ISO 8601 (e.g. 2027-01-01T00:00:00Z)." };

    private static Option<string?> NotBefore() => new("--not-before") { Description = "Not-before date-time, ISO 8601." };

    private static Option<string?> Kty() => new("--kty") { Description = "Key type: RSA or RSA-HSM (default RSA)." };

    private static Option<string?> Protection() => new("--protection", "-p") { Description = "software (default) or hsm; hsm is the same as --kty RSA-HSM." };

    // ── commands ──────────────────────────────────────────────────────────────────────────────

    private static Command CreateKey()
    {
        var vault = VaultName();
        var name = KeyName();
        var kty = Kty();
        var protection = Protection();
        var size = new Option<int?>("--size") { Description = "RSA key size in bits: 2048, 3072 or 4096 (default 2048)." };
        var ops = Ops();
        var disabled = new Option<bool>("--disabled") { Description = "Create the key disabled." };
        var expires = Expires();
        var notBefore = NotBefore();
        var tags = Tags();
        return Leaf("create", "Create a new key (or a new version of an existing key).",
            [vault, name, kty, protection, size, ops, disabled, expires, notBefore, tags], KeyColumns, async (call, ct) =>
            {
                var body = new JsonObject { ["kty"] = KeyType(call.Value(kty), call.Value(protection)) };
                if (call.Value(size) is { } bits)
                {
                    body["key_size"] = bits;
                }

                AddCommon(call, body, ops, call.Value(disabled) ? false : null, expires, notBefore, tags);
                return await SendAsync(call, vault, HttpMethod.Post, $"keys/{Segment(call.Value(name))}/create", body, ct);
            });
    }

    private static Command Import()
    {
        var vault = VaultName();
        var name = KeyName();
        var pemFile = new Option<string?>("--pem-file") { Description = "PEM file of an RSA private key (PKCS#1 or PKCS#8)." };
        var pemPassword = new Option<string?>("--pem-password") { Description = "Password of an encrypted PEM file." };
        var jwkFile = new Option<string?>("--jwk-file") { Description = "JSON Web Key file (RFC 7517) of an RSA private key." };
        var kty = Kty();
        var protection = Protection();
        var ops = Ops();
        var disabled = new Option<bool>("--disabled") { Description = "Import the key disabled." };
        var expires = Expires();
        var notBefore = NotBefore();
        var tags = Tags();
        return Leaf("import", "Import a private key (a new version of the key).",
            [vault, name, pemFile, pemPassword, jwkFile, kty, protection, ops, disabled, expires, notBefore, tags], KeyColumns, async (call, ct) =>
            {
                var pem = call.Value(pemFile);
                var jwkPath = call.Value(jwkFile);
                if ((pem is null) == (jwkPath is null))
                {
                    throw new CliException("InvalidArgument", "Give exactly one of --pem-file and --jwk-file.");
                }

                var jwk = pem is not null ? JwkFromPem(pem, call.Value(pemPassword)) : JwkFromFile(jwkPath!);
                var body = new JsonObject
                {
                    ["key"] = jwk,
                    ["hsm"] = KeyType(call.Value(kty), call.Value(protection)) == "RSA-HSM",
                };
                AddCommon(call, body, ops, call.Value(disabled) ? false : null, expires, notBefore, tags);
                return await SendAsync(call, vault, HttpMethod.Put, $"keys/{Segment(call.Value(name))}", body, ct);
            });
    }

    private static Command Show()
    {
        var vault = VaultName();
        var name = KeyName();
        var version = Version();
        return Leaf("show", "Show a key's public part and attributes.", [vault, name, version], KeyColumns, (call, ct) =>
            SendAsync(call, vault, HttpMethod.Get, KeyPath(call.Value(name), call.Value(version)), null, ct));
    }

    private static Command List()
    {
        var vault = VaultName();
        return Leaf("list", "List the keys of a vault (latest versions).", [vault], ItemColumns, async (call, ct) =>
            await ListAsync(call, vault, "keys?maxresults=25", ct));
    }

    private static Command ListVersions()
    {
        var vault = VaultName();
        var name = KeyName();
        return Leaf("list-versions", "List the versions of a key.", [vault, name], ItemColumns, async (call, ct) =>
            await ListAsync(call, vault, $"keys/{Segment(call.Value(name))}/versions?maxresults=25", ct));
    }

    private static Command SetAttributes()
    {
        var vault = VaultName();
        var name = KeyName();
        var version = Version();
        var enabled = new Option<bool?>("--enabled") { Description = "true or false." };
        var ops = Ops();
        var expires = Expires();
        var notBefore = NotBefore();
        var tags = Tags();
        return Leaf("set-attributes", "Change a key version's attributes (only what is given changes).",
            [vault, name, version, enabled, ops, expires, notBefore, tags], KeyColumns, (call, ct) =>
            {
                var body = new JsonObject();
                AddCommon(call, body, ops, call.Value(enabled), expires, notBefore, tags);
                return SendAsync(call, vault, HttpMethod.Patch, KeyPath(call.Value(name), call.Value(version)), body, ct);
            });
    }

    private static Command Rotate()
    {
        var vault = VaultName();
        var name = KeyName();
        return Leaf("rotate", "Create a new version of a key now (with the key's type and size).", [vault, name], KeyColumns, (call, ct) =>
            SendAsync(call, vault, HttpMethod.Post, $"keys/{Segment(call.Value(name))}/rotate", null, ct));
    }

    private static Command RotationPolicy()
    {
        var showVault = VaultName();
        var showName = KeyName();
        var show = Leaf("show", "Show a key's rotation policy.", [showVault, showName], PolicyColumns, (call, ct) =>
            SendAsync(call, showVault, HttpMethod.Get, $"keys/{Segment(call.Value(showName))}/rotationpolicy", null, ct));

        var vault = VaultName();
        var name = KeyName();
        var value = Required("--value", "--policy", "The policy as JSON, or @FILE to read it from a file (the vault's shape: lifetimeActions, attributes.expiryTime).");
        var update = Leaf("update", "Set a key's rotation policy.", [vault, name, value], PolicyColumns, (call, ct) =>
            SendAsync(call, vault, HttpMethod.Put, $"keys/{Segment(call.Value(name))}/rotationpolicy", JsonArgument(call.Value(value), "--value"), ct));
        return Group("rotation-policy", "Show or set a key's automatic rotation policy.", show, update);
    }

    private static Command Backup()
    {
        var vault = VaultName();
        var name = KeyName();
        var file = Required("--file", "-f", "File to write the backup to (must not exist; it is sealed by the vault, not readable elsewhere).");
        return Leaf("backup", "Back up a key (all its versions) to a file.", [vault, name, file], KeyColumns, async (call, ct) =>
        {
            var path = call.Value(file);
            if (File.Exists(path))
            {
                throw new CliException("FileExists", $"{path} already exists; choose another --file.");
            }

            var result = await SendAsync(call, vault, HttpMethod.Post, $"keys/{Segment(call.Value(name))}/backup", null, ct);
            var blob = CliOutput.Select(result, "value") ?? throw new CliException("InvalidResponse", "The vault answered the backup without a value.");
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            await using (var stream = new FileStream(path, options))
            {
                await stream.WriteAsync(FromBase64(blob, "backup"), ct);
            }

            return null;
        });
    }

    private static Command Restore()
    {
        var vault = VaultName();
        var file = Required("--file", "-f", "A backup file written by 'key backup' (from a vault of the same subscription).");
        return Leaf("restore", "Restore a backed-up key (refused if a key of that name exists).", [vault, file], KeyColumns, async (call, ct) =>
        {
            var path = call.Value(file);
            if (!File.Exists(path))
            {
                throw new CliException("FileNotFound", $"{path} does not exist.");
            }

            var body = new JsonObject { ["value"] = Base64Url(await File.ReadAllBytesAsync(path, ct)) };
            return await SendAsync(call, vault, HttpMethod.Post, "keys/restore", body, ct);
        });
    }

    private static Command Delete()
    {
        var vault = VaultName();
        var name = KeyName();
        return Leaf("delete", "Delete a key (soft delete: recoverable until purged).", [vault, name], DeletedColumns, (call, ct) =>
            SendAsync(call, vault, HttpMethod.Delete, $"keys/{Segment(call.Value(name))}", null, ct));
    }

    private static Command ShowDeleted()
    {
        var vault = VaultName();
        var name = KeyName();
        return Leaf("show-deleted", "Show a soft-deleted key.", [vault, name], DeletedColumns, (call, ct) =>
            SendAsync(call, vault, HttpMethod.Get, $"deletedkeys/{Segment(call.Value(name))}", null, ct));
    }

    private static Command ListDeleted()
    {
        var vault = VaultName();
        return Leaf("list-deleted", "List the soft-deleted keys of a vault.", [vault], DeletedColumns, async (call, ct) =>
            await ListAsync(call, vault, "deletedkeys?maxresults=25", ct));
    }

    private static Command Recover()
    {
        var vault = VaultName();
        var name = KeyName();
        return Leaf("recover", "Recover a soft-deleted key with all its versions.", [vault, name], KeyColumns, (call, ct) =>
            SendAsync(call, vault, HttpMethod.Post, $"deletedkeys/{Segment(call.Value(name))}/recover", null, ct));
    }

    private static Command Purge()
    {
        var vault = VaultName();
        var name = KeyName();
        return Leaf("purge", "Purge a soft-deleted key for good (refused under purge protection).", [vault, name], DeletedColumns, async (call, ct) =>
        {
            await SendAsync(call, vault, HttpMethod.Delete, $"deletedkeys/{Segment(call.Value(name))}", null, ct);
            return null;
        });
    }

    /// <summary>wrap/unwrap/encrypt/decrypt: --value in base64 (or base64url), the result in base64, like az's encrypt/decrypt.</summary>
    private static Command KeyOperation(string command, string verb, string description)
    {
        var vault = VaultName();
        var name = KeyName();
        var version = Version();
        var algorithm = new Option<string>("--algorithm", "-a")
        {
            Description = "RSA-OAEP-256 (default), RSA-OAEP or RSA1_5.",
            DefaultValueFactory = _ => "RSA-OAEP-256",
        };
        var value = Required("--value", "--data", "The input, base64-encoded.");
        return Leaf(command, description, [vault, name, version, algorithm, value], OperationColumns, async (call, ct) =>
        {
            var input = FromBase64(call.Value(value), "--value");
            var body = new JsonObject { ["alg"] = call.Value(algorithm), ["value"] = Base64Url(input) };
            CryptographicOperations.ZeroMemory(input);
            var path = call.Value(version) is { Length: > 0 } v
                ? $"keys/{Segment(call.Value(name))}/{Segment(v)}/{verb}"
                : $"keys/{Segment(call.Value(name))}/{verb}";
            var result = await SendAsync(call, vault, HttpMethod.Post, path, body, ct);
            var output = CliOutput.Select(result, "value") ?? throw new CliException("InvalidResponse", $"The vault answered {command} without a value.");
            return new JsonObject
            {
                ["kid"] = CliOutput.Select(result, "kid"),
                ["algorithm"] = call.Value(algorithm),
                ["result"] = Convert.ToBase64String(FromBase64(output, "result")),
            };
        });
    }

    // ── helpers ───────────────────────────────────────────────────────────────────────────────

    /// <summary>The vault's data-plane URL from Resource Manager (vault names are unique across subscriptions).</summary>
    internal static async Task<JsonNode> FindVaultAsync(CliInvocation call, string name, CancellationToken ct)
    {
        var vaults = await call.Connection.ListAsync($"/subscriptions/{call.Subscription}/providers/Microsoft.KeyVault/vaults", ArmConnection.KeyVaultApiVersion, ct);
        return vaults.FirstOrDefault(v => string.Equals(CliOutput.Select(v, "name"), name, StringComparison.OrdinalIgnoreCase))
            ?? throw new CliException("VaultNotFound", $"No key vault named '{name}' exists in subscription '{call.Subscription}'.", 404);
    }

    private static async Task<Uri> VaultUriAsync(CliInvocation call, Option<string> vault, CancellationToken ct)
    {
        var found = await FindVaultAsync(call, call.Value(vault), ct);
        return CliOutput.Select(found, "properties.vaultUri") is { Length: > 0 } uri && Uri.TryCreate(uri, UriKind.Absolute, out var parsed)
            ? parsed
            : throw new CliException("InvalidResponse", $"The vault '{call.Value(vault)}' has no properties.vaultUri.");
    }

    private static async Task<JsonNode?> SendAsync(CliInvocation call, Option<string> vault, HttpMethod method, string path, JsonNode? body, CancellationToken ct) =>
        await call.Connection.SendToVaultAsync(await VaultUriAsync(call, vault, ct), method, path, body, ct);

    private static async Task<JsonArray> ListAsync(CliInvocation call, Option<string> vault, string path, CancellationToken ct) =>
        await call.Connection.ListFromVaultAsync(await VaultUriAsync(call, vault, ct), path, ct);

    private static string KeyPath(string name, string? version) =>
        version is { Length: > 0 } v ? $"keys/{Segment(name)}/{Segment(v)}" : $"keys/{Segment(name)}";

    private static string Segment(string value) => Uri.EscapeDataString(value);

    private static string KeyType(string? kty, string? protection)
    {
        var hsm = protection?.ToLowerInvariant() switch
        {
            null or "software" => false,
            "hsm" => true,
            _ => throw new CliException("InvalidArgument", $"--protection must be software or hsm, not '{protection}'."),
        };
        return kty?.ToUpperInvariant() switch
        {
            null => hsm ? "RSA-HSM" : "RSA",
            "RSA" => hsm ? "RSA-HSM" : "RSA",
            "RSA-HSM" => "RSA-HSM",
            _ => throw new CliException("InvalidArgument", $"--kty must be RSA or RSA-HSM, not '{kty}' (EC and oct keys are not supported)."),
        };
    }

    /// <summary>attributes (enabled, nbf, exp), key_ops and tags, each only when given.</summary>
    private static void AddCommon(CliInvocation call, JsonObject body, Option<string[]> ops, bool? enabled, Option<string?> expires, Option<string?> notBefore, Option<string[]> tags)
    {
        var attributes = new JsonObject();
        if (enabled is { } isEnabled)
        {
            attributes["enabled"] = isEnabled;
        }

        if (call.Value(notBefore) is { } nbf)
        {
            attributes["nbf"] = UnixSeconds(nbf, "--not-before");
        }

        if (call.Value(expires) is { } exp)
        {
            attributes["exp"] = UnixSeconds(exp, "--expires");
        }

        body["attributes"] = attributes;
        if (call.ParseResult.GetResult(ops) is not null)
        {
            body["key_ops"] = new JsonArray([.. call.Value(ops).Select(o => (JsonNode)JsonValue.Create(o))]);
        }

        if (call.ParseResult.GetResult(tags) is not null)
        {
            body["tags"] = TagsObject(call.Value(tags));
        }
    }

    private static long UnixSeconds(string text, string option) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time.ToUnixTimeSeconds()
            : throw new CliException("InvalidArgument", $"{option} must be an ISO 8601 date-time such as 2027-01-01T00:00:00Z.");

    /// <summary>A JSON argument given inline or as @FILE (az's convention).</summary>
    private static JsonNode JsonArgument(string value, string option)
    {
        var text = value;
        if (value.StartsWith('@'))
        {
            var path = value[1..];
            text = File.Exists(path) ? File.ReadAllText(path) : throw new CliException("FileNotFound", $"{path} (from {option}) does not exist.");
        }

        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new CliException("InvalidArgument", $"{option} must be a JSON object.");
        }
        catch (JsonException)
        {
            throw new CliException("InvalidArgument", $"{option} is not valid JSON.");
        }
    }

    /// <summary>The private JWK of a PEM RSA key; the key's bytes are zeroed once encoded.</summary>
    private static JsonObject JwkFromPem(string path, string? password)
    {
        if (!File.Exists(path))
        {
            throw new CliException("FileNotFound", $"{path} does not exist.");
        }

        using var rsa = RSA.Create();
        try
        {
            var pem = File.ReadAllText(path);
            if (password is null)
            {
                rsa.ImportFromPem(pem);
            }
            else
            {
                rsa.ImportFromEncryptedPem(pem, password);
            }
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            // The exception's text could quote the file: report only that it is unusable.
            throw new CliException("InvalidArgument", $"{path} holds no usable RSA private key (wrong format or password).");
        }

        RSAParameters p;
        try
        {
            p = rsa.ExportParameters(includePrivateParameters: true);
        }
        catch (CryptographicException)
        {
            throw new CliException("InvalidArgument", $"{path} holds a public key only; import needs the private key.");
        }

        try
        {
            return new JsonObject
            {
                ["kty"] = "RSA",
                ["n"] = Base64Url(p.Modulus!),
                ["e"] = Base64Url(p.Exponent!),
                ["d"] = Base64Url(p.D!),
                ["p"] = Base64Url(p.P!),
                ["q"] = Base64Url(p.Q!),
                ["dp"] = Base64Url(p.DP!),
                ["dq"] = Base64Url(p.DQ!),
                ["qi"] = Base64Url(p.InverseQ!),
            };
        }
        finally
        {
            foreach (var part in new[] { p.D, p.P, p.Q, p.DP, p.DQ, p.InverseQ })
            {
                CryptographicOperations.ZeroMemory(part);
            }
        }
    }

    private static JsonObject JwkFromFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException("FileNotFound", $"{path} does not exist.");
        }

        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path));
            // A bare JWK, or {"key": JWK} as the import body carries it.
            return (node?["key"] as JsonObject ?? node as JsonObject)?.DeepClone() as JsonObject
                ?? throw new CliException("InvalidArgument", $"{path} is not a JSON Web Key object.");
        }
        catch (JsonException)
        {
            throw new CliException("InvalidArgument", $"{path} is not valid JSON.");
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Standard base64 or base64url, padded or not.</summary>
    private static byte[] FromBase64(string text, string what)
    {
        var normalized = text.Trim().Replace('-', '+').Replace('_', '/');
        normalized += (normalized.Length % 4) switch { 2 => "==", 3 => "=", _ => "" };
        try
        {
            return Convert.FromBase64String(normalized);
        }
        catch (FormatException)
        {
            throw new CliException("InvalidArgument", $"{what} is not base64.");
        }
    }
}
