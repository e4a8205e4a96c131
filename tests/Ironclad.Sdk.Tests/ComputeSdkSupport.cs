// Helpers of the compute SDK tests (tests/sdk-js/compute-*.mjs against a real server): runs a script
// with the test's seed (printed, replayable), checks that an error names what it must, recovers the
// customer-key DEKs the server stored (unwrapping every wrapped blob of its databases as the vault
// admin) and scans the whole data directory for known data and those DEKs.
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ironclad.Testing;
using Microsoft.Data.Sqlite;

namespace Ironclad.Sdk.Tests;

internal static class ComputeSdkSupport
{
    /// <summary>Runs the script with IRONCLAD_SEED = the test's seed and returns its JSON; a failure quotes the whole run and the seed.</summary>
    public static async Task<JsonElement> RunAsync(SdkServer server, string script, int seed, IReadOnlyDictionary<string, string?> environment,
        CancellationToken cancellationToken)
    {
        var variables = new Dictionary<string, string?>(environment) { [Seeds.EnvironmentVariable] = seed.ToString(CultureInfo.InvariantCulture) };
        var result = await server.RunNodeAsync(script, variables, cancellationToken);
        Assert.True(result.Succeeded, $"{script} failed (seed={seed}): {result.Tool.Describe()}");
        var text = result.Output.ToString();
        TestContext.Current.TestOutputHelper?.WriteLine($"{script}: {(text.Length > 6000 ? text[..6000] + "…" : text)}");
        return result.Output;
    }

    /// <summary>The error the script recorded under <paramref name="name"/>: status, code, message.</summary>
    public static (int Status, string? Code, string Message) Error(JsonElement errors, string name)
    {
        Assert.True(errors.TryGetProperty(name, out var error), $"the script recorded no '{name}' error: {errors}");
        return (error.GetProperty("statusCode").GetInt32(),
            error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString() : null,
            error.GetProperty("message").GetString() ?? string.Empty);
    }

    /// <summary>Asserts that the message contains every fragment (case-insensitive), quoting the message otherwise.</summary>
    public static void AssertNames(string what, string message, params string[] fragments)
    {
        foreach (var fragment in fragments)
        {
            Assert.True(message.Contains(fragment, StringComparison.OrdinalIgnoreCase),
                $"{what}: the error should name '{fragment}', but says: {message}");
        }
    }

    /// <summary>Asserts that the message matches the pattern (case-insensitive).</summary>
    public static void AssertMentions(string what, string message, string pattern) =>
        Assert.True(Regex.IsMatch(message, pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant),
            $"{what}: the error should match /{pattern}/, but says: {message}");

    /// <summary>
    /// Every DEK the server stored wrapped under one of <paramref name="keyIds"/> (versioned kids of the
    /// admin's vault): each BLOB (or base64 TEXT) of an RSA-ciphertext size in every SQLite database of
    /// the data directory (copied first, WAL included) is offered to the vault's unwrapkey as the admin;
    /// what unwraps is a DEK. Schema-agnostic on purpose: the test must not know where DEKs are kept.
    /// </summary>
    public static async Task<IReadOnlyList<(byte[] Wrapped, byte[] Dek)>> RecoverDeksAsync(SdkServer server, Uri vaultUri, IReadOnlyList<string> keyIds,
        CancellationToken cancellationToken)
    {
        var candidates = WrappedBlobCandidates(server.DataDirectory);
        var token = await KeysTestSupport.VaultTokenAsync(server, cancellationToken);
        using var vault = KeysTestSupport.VaultClient(server, vaultUri);
        var deks = new List<(byte[] Wrapped, byte[] Dek)>();
        foreach (var blob in candidates)
        {
            foreach (var kid in keyIds)
            {
                var path = new Uri(kid).AbsolutePath.TrimEnd('/');
                var body = JsonSerializer.Serialize(new { alg = "RSA-OAEP-256", value = Base64Url(blob) });
                var (status, json, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Post, $"{path}/unwrapkey?{KeysTestSupport.ApiVersion}", token, body, cancellationToken);
                response.Dispose();
                if (status == 200 && json is { } unwrapped)
                {
                    deks.Add((blob, FromBase64Url(unwrapped.GetProperty("value").GetString()!)));
                    break;
                }
            }
        }

        return deks;
    }

    /// <summary>DELETE of an ARM resource as the administrator; returns the HTTP status.</summary>
    public static async Task<int> DeleteAsync(SdkServer server, string resourceId, CancellationToken cancellationToken)
    {
        var token = await server.GetTokenAsync(cancellationToken: cancellationToken);
        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"{resourceId}?api-version=2026-03-02");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        return (int)response.StatusCode;
    }

    /// <summary>Patterns for a DEK: the whole key, each 32-byte half (an XTS pair), and its base64 / base64url text.</summary>
    public static IEnumerable<byte[]> DekPatterns(byte[] dek)
    {
        yield return dek;
        if (dek.Length == 64)
        {
            yield return dek[..32];
            yield return dek[32..];
        }

        var base64 = Convert.ToBase64String(dek).TrimEnd('=');
        yield return Encoding.ASCII.GetBytes(base64);
        yield return Encoding.ASCII.GetBytes(base64.Replace('+', '-').Replace('/', '_'));
        yield return Encoding.ASCII.GetBytes(Convert.ToHexString(dek));
        yield return Encoding.ASCII.GetBytes(Convert.ToHexStringLower(dek));
    }

    /// <summary>Scans every file of the data directory (the server must be stopped: the volume store too).</summary>
    public static void AssertNothingPlaintext(SdkServer server, IReadOnlyList<byte[]> patterns, IReadOnlyList<string> labels, int seed)
    {
        var findings = PlaintextScanner.Scan(server.DataDirectory, patterns);
        Assert.True(findings.Count == 0, $"plaintext at rest (seed={seed}): " + string.Join(", ", findings.Take(20).Select(f =>
            $"{Path.GetRelativePath(server.DataDirectory, f.FilePath)}@{f.OffsetBytes} ({labels[f.PatternIndex]})")));
    }

    private static List<byte[]> WrappedBlobCandidates(string dataDirectory)
    {
        using var copy = new TempDirectory("ironclad-compute-dek-scan");
        var blobs = new List<byte[]>();
        foreach (var database in Directory.EnumerateFiles(dataDirectory, "*.db", SearchOption.AllDirectories))
        {
            var target = copy.Combine(Guid.NewGuid().ToString("N") + ".db");
            foreach (var suffix in new[] { string.Empty, "-wal" })
            {
                if (File.Exists(database + suffix))
                {
                    using var source = new FileStream(database + suffix, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                    using var destination = File.Create(target + suffix);
                    source.CopyTo(destination);
                }
            }

            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Pooling = false }.ToString());
            connection.Open();
            var tables = new List<string>();
            using (var list = connection.CreateCommand())
            {
                list.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table'";
                using var reader = list.ExecuteReader();
                while (reader.Read())
                {
                    tables.Add(reader.GetString(0));
                }
            }

            foreach (var table in tables)
            {
                using var select = connection.CreateCommand();
                select.CommandText = $"SELECT * FROM \"{table.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    for (var i = 0; i < reader.FieldCount; i++)
                    {
                        if (reader.IsDBNull(i))
                        {
                            continue;
                        }

                        var value = reader.GetValue(i);
                        var bytes = value switch
                        {
                            byte[] raw => raw,
                            string text when text.Length is >= 340 and <= 700 => TryBase64(text),
                            _ => null,
                        };
                        if (bytes is { Length: 256 or 384 or 512 })
                        {
                            blobs.Add(bytes);
                        }
                    }
                }
            }
        }

        SqliteConnection.ClearAllPools();
        return blobs;
    }

    private static byte[]? TryBase64(string text)
    {
        var normalized = text.Trim().Replace('-', '+').Replace('_', '/');
        normalized = normalized.PadRight(normalized.Length + ((4 - (normalized.Length % 4)) % 4), '=');
        var buffer = new byte[normalized.Length];
        return Convert.TryFromBase64String(normalized, buffer, out var written) ? buffer[..written] : null;
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] FromBase64Url(string text) =>
        Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/').PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '='));
}
