// The audit log's line format and hash chain (docs/keyvault/audit-and-events.md §1). One record per
// line: canonical JSON with a fixed property order and no whitespace, then `,"hash":"<64 hex>"}`.
// Invariant: hash = lowercase hex SHA-256 over ASCII(previousHash) followed by the UTF-8 bytes of the
// line without its hash property, so anyone can recheck a line with sha256sum, without re-serialising.
using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ironclad.KeyVault.Audit;

internal static class AuditLogFormat
{
    /// <summary>The previousHash of record 1.</summary>
    public static readonly string GenesisHash = new('0', 64);

    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
    private const int HashHexChars = 64;

    // `,"hash":"` + 64 hex digits + `"}` closes every line.
    private static readonly byte[] HashPrefix = ",\"hash\":\""u8.ToArray();
    private static readonly int SuffixBytes = HashPrefix.Length + HashHexChars + 2;

    /// <summary>Times are kept to the millisecond, as written, so a parsed record equals the appended one.</summary>
    public static DateTimeOffset TruncateToMilliseconds(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    /// <summary>The record without its hash: {"sequence",...,"previousHash"} in this fixed order.</summary>
    public static byte[] Canonical(long sequence, DateTimeOffset time, AuditEntry entry, string previousHash)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("sequence", sequence);
            writer.WriteString("time", time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture));
            WriteGuid(writer, "tenantId", entry.TenantId);
            WriteGuid(writer, "callerObjectId", entry.CallerObjectId);
            WriteGuid(writer, "callerAppId", entry.CallerAppId);
            writer.WriteString("vault", entry.Vault);
            writer.WriteString("operation", entry.Operation);
            writer.WriteString("keyName", entry.KeyName);
            writer.WriteString("keyVersion", entry.KeyVersion);
            writer.WriteNumber("status", entry.Status);
            writer.WriteString("result", entry.Result);
            writer.WriteString("clientAddress", entry.ClientAddress);
            writer.WriteString("previousHash", previousHash);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static string ComputeHash(string previousHash, ReadOnlySpan<byte> canonical)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.ASCII.GetBytes(previousHash));
        sha.AppendData(canonical);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The bytes written to the file: the canonical JSON with the hash as its last property, and '\n'.</summary>
    public static byte[] Line(ReadOnlySpan<byte> canonical, string hash)
    {
        var line = new byte[canonical.Length - 1 + SuffixBytes + 1];
        canonical[..^1].CopyTo(line);
        var at = canonical.Length - 1;
        HashPrefix.CopyTo(line, at);
        at += HashPrefix.Length;
        at += Encoding.ASCII.GetBytes(hash, line.AsSpan(at));
        line[at++] = (byte)'"';
        line[at++] = (byte)'}';
        line[at] = (byte)'\n';
        return line;
    }

    /// <summary>True when <paramref name="bytes"/> is one complete JSON value (used to tell a torn final line from a whole one).</summary>
    public static bool IsCompleteJson(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var reader = new Utf8JsonReader(bytes);
            if (!reader.Read())
            {
                return false;
            }

            reader.Skip();
            return !reader.Read() || reader.TokenType == JsonTokenType.None;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Parses one line (without '\n'). <paramref name="hashValid"/> says whether the stated hash matches
    /// the line's content and stated previousHash; false with a null record means unreadable.
    /// </summary>
    public static AuditRecord? TryParse(ReadOnlySpan<byte> line, out bool hashValid, out string? problem)
    {
        hashValid = false;
        if (line.Length < SuffixBytes + 2
            || !line[^SuffixBytes..].StartsWith(HashPrefix)
            || line[^2] != (byte)'"' || line[^1] != (byte)'}')
        {
            problem = "the line does not end with its hash";
            return null;
        }

        AuditRecord record;
        try
        {
            using var document = JsonDocument.Parse(line.ToArray());
            var root = document.RootElement;
            var entry = new AuditEntry(
                OptionalGuid(root, "tenantId"),
                OptionalGuid(root, "callerObjectId"),
                OptionalGuid(root, "callerAppId"),
                root.GetProperty("vault").GetString() ?? string.Empty,
                root.GetProperty("operation").GetString() ?? string.Empty,
                root.GetProperty("keyName").GetString(),
                root.GetProperty("keyVersion").GetString(),
                root.GetProperty("status").GetInt32(),
                root.GetProperty("result").GetString() ?? string.Empty,
                root.GetProperty("clientAddress").GetString());
            var time = DateTimeOffset.ParseExact(
                root.GetProperty("time").GetString() ?? string.Empty, TimeFormat, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            record = new AuditRecord(
                root.GetProperty("sequence").GetInt64(),
                time,
                entry,
                root.GetProperty("previousHash").GetString() ?? string.Empty,
                root.GetProperty("hash").GetString() ?? string.Empty);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            problem = "the line is not a well-formed record";
            return null;
        }

        // Recheck over the bytes as stored: the line minus its hash property, closed again with '}'.
        var canonical = new byte[line.Length - SuffixBytes + 1];
        line[..^SuffixBytes].CopyTo(canonical);
        canonical[^1] = (byte)'}';
        hashValid = record.PreviousHash.Length == HashHexChars
            && string.Equals(ComputeHash(record.PreviousHash, canonical), record.Hash, StringComparison.Ordinal);
        problem = hashValid ? null : "its hash does not match its content";
        return record;
    }

    private static void WriteGuid(Utf8JsonWriter writer, string name, Guid? value)
    {
        if (value is { } guid)
        {
            writer.WriteString(name, guid);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static Guid? OptionalGuid(JsonElement root, string name)
    {
        var element = root.GetProperty(name);
        return element.ValueKind == JsonValueKind.Null ? null : element.GetGuid();
    }
}
