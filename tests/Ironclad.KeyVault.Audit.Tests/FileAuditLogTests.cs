// FileAuditLog over real files (and a real SQLite anchor) in temp dirs: the chain, each kind of
// tampering Verify must catch, crash repair on open, concurrency and paging. Every tamper test first
// checks the untouched log verifies, so it fails if Verify reports nothing or reports everything.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ironclad.Metadata;
using Ironclad.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Ironclad.KeyVault.Audit.Tests;

public sealed class FileAuditLogTests : IDisposable
{
    private static readonly Guid Tenant = Guid.Parse("6b1f3c0e-0000-4000-8000-000000000001");
    private static readonly Guid Caller = Guid.Parse("6b1f3c0e-0000-4000-8000-000000000002");

    private readonly TempDirectory _dir = new("ironclad-audit");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));

    private string KeyVaultDirectory => _dir.Combine("keyvault");

    private string LogPath => Path.Combine(KeyVaultDirectory, FileAuditLog.FileName);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Appended_records_are_listed_in_order_and_the_chain_verifies()
    {
        using var log = Open();
        var first = log.Append(Entry("KeyCreate", "k1"));
        _time.Advance(TimeSpan.FromMilliseconds(1500.7));
        var second = log.Append(Entry("KeyUnwrap", "k1", status: 403, result: "Forbidden"));

        Assert.Equal(1, first.Sequence);
        Assert.Equal(new string('0', 64), first.PreviousHash);
        Assert.Equal(first.Hash, second.PreviousHash);
        Assert.Equal(new DateTimeOffset(2026, 11, 29, 12, 0, 1, 500, TimeSpan.Zero), second.Time);

        var listed = log.List(new AuditQuery(null, null, null, 0, 100));
        Assert.Equal([first, second], listed);
        Assert.Equal(new AuditVerification(true, 2, null, null), log.Verify());
    }

    [Fact]
    public void Each_line_rechecks_with_the_documented_formula()
    {
        using (var log = Open())
        {
            for (var i = 0; i < 5; i++)
            {
                log.Append(Entry("KeyGet", $"k{i}"));
            }
        }

        var previous = new string('0', 64);
        foreach (var line in File.ReadAllLines(LogPath))
        {
            using var json = JsonDocument.Parse(line);
            Assert.Equal(previous, json.RootElement.GetProperty("previousHash").GetString());
            var stated = json.RootElement.GetProperty("hash").GetString();
            Assert.Equal(stated, ExternalHash(previous, line));
            previous = stated!;
        }
    }

    [Fact]
    public void Line_format_is_frozen()
    {
        using (var log = Open())
        {
            log.Append(new AuditEntry(Tenant, Caller, null, "vault1", "KeyUnwrap", "disk-key", "0123abcd", 200, "Success", "127.0.0.1"));
        }

        var line = File.ReadAllText(LogPath);
        const string expectedPrefix = """{"sequence":1,"time":"2026-11-29T12:00:00.000Z","tenantId":"6b1f3c0e-0000-4000-8000-000000000001","callerObjectId":"6b1f3c0e-0000-4000-8000-000000000002","callerAppId":null,"vault":"vault1","operation":"KeyUnwrap","keyName":"disk-key","keyVersion":"0123abcd","status":200,"result":"Success","clientAddress":"127.0.0.1","previousHash":"0000000000000000000000000000000000000000000000000000000000000000","hash":""";
        Assert.StartsWith(expectedPrefix, line, StringComparison.Ordinal);
        Assert.Matches("^\"[0-9a-f]{64}\"}\n$", line[expectedPrefix.Length..]);
    }

    [Fact]
    public void Reopening_continues_the_chain()
    {
        AuditRecord last;
        using (var log = Open())
        {
            log.Append(Entry("KeyCreate", "k1"));
            last = log.Append(Entry("KeyGet", "k1"));
        }

        using (var log = Open())
        {
            var next = log.Append(Entry("KeyDelete", "k1"));
            Assert.Equal(3, next.Sequence);
            Assert.Equal(last.Hash, next.PreviousHash);
            Assert.True(log.Verify().Valid);
        }
    }

    [Fact]
    public void Verify_reports_an_edited_line()
    {
        using var log = OpenWith(5);
        EditLines(lines => lines[2] = lines[2].Replace("\"status\":200", "\"status\":201", StringComparison.Ordinal));

        AssertBroken(log.Verify(), 3, "altered");
    }

    [Fact]
    public void Verify_reports_a_deleted_line()
    {
        using var log = OpenWith(5);
        EditLines(lines => lines.RemoveAt(1));

        AssertBroken(log.Verify(), 2, "missing");
    }

    [Fact]
    public void Verify_reports_reordered_lines()
    {
        using var log = OpenWith(5);
        EditLines(lines => (lines[2], lines[3]) = (lines[3], lines[2]));

        AssertBroken(log.Verify(), 3, "reordered");
    }

    [Fact]
    public void Verify_reports_a_removed_chain_head()
    {
        using var log = OpenWith(5);
        EditLines(lines => lines.RemoveRange(0, 2));

        AssertBroken(log.Verify(), 1, "head");
    }

    [Fact]
    public void Verify_reports_an_unreadable_line()
    {
        using var log = OpenWith(5);
        EditLines(lines => lines[3] = "not json at all");

        AssertBroken(log.Verify(), 4, "cannot be read");
    }

    [Fact]
    public void Verify_reports_records_cut_off_the_end_through_the_anchor()
    {
        var database = MetadataDatabase.Open(_dir.Combine("metadata.db"));
        using var log = OpenWith(5, database);
        log.Flush();
        EditLines(lines => lines.RemoveRange(3, 2));

        AssertBroken(log.Verify(), 4, "anchors");
    }

    [Fact]
    public void Without_an_anchor_records_cut_off_the_end_go_unnoticed()
    {
        // The documented limit of an unanchored log: a shorter chain is still a valid chain.
        using var log = OpenWith(5);
        EditLines(lines => lines.RemoveRange(3, 2));

        Assert.Equal(new AuditVerification(true, 3, null, null), log.Verify());
    }

    [Fact]
    public void Verify_reports_a_rewritten_and_rehashed_chain_through_the_anchor()
    {
        var database = MetadataDatabase.Open(_dir.Combine("metadata.db"));
        using var log = OpenWith(5, database);
        log.Flush();
        Assert.True(log.Verify().Valid);

        // An attacker who can write the file recomputes every hash after editing record 2.
        EditLines(lines =>
        {
            var previous = new string('0', 64);
            for (var i = 0; i < lines.Count; i++)
            {
                var line = lines[i];
                if (i == 1)
                {
                    line = line.Replace("\"status\":200", "\"status\":201", StringComparison.Ordinal);
                }

                line = line.Replace(line.Substring(line.IndexOf("\"previousHash\":\"", StringComparison.Ordinal) + 16, 64), previous, StringComparison.Ordinal);
                var body = line[..^75];
                var hash = ExternalHash(previous, body + ",\"hash\":\"" + new string('0', 64) + "\"}");
                lines[i] = body + ",\"hash\":\"" + hash + "\"}";
                previous = hash;
            }
        });

        AssertBroken(log.Verify(), 5, "anchored");
    }

    [Fact]
    public void A_torn_final_line_is_cut_on_open_and_the_repair_is_recorded()
    {
        using (OpenWith(3))
        {
        }

        File.AppendAllText(LogPath, "{\"sequence\":4,\"time\":\"2026-11-");

        using var log = Open();
        var records = log.List(new AuditQuery(null, null, null, 0, 100));
        Assert.Equal(4, records.Count);
        Assert.Equal(FileAuditLog.RepairOperation, records[3].Entry.Operation);
        Assert.Equal(FileAuditLog.RepairResult, records[3].Entry.Result);
        Assert.Equal(records[2].Hash, records[3].PreviousHash);
        Assert.True(log.Verify().Valid);
        Assert.DoesNotContain("2026-11-\"", File.ReadAllText(LogPath), StringComparison.Ordinal);
    }

    [Fact]
    public void A_final_record_that_lost_only_its_newline_is_kept()
    {
        using (OpenWith(3))
        {
        }

        var text = File.ReadAllText(LogPath);
        File.WriteAllText(LogPath, text[..^1]);

        using var log = Open();
        var next = log.Append(Entry("KeyGet", "k"));
        Assert.Equal(4, next.Sequence);
        Assert.Equal(new AuditVerification(true, 4, null, null), log.Verify());
    }

    [Fact]
    public void An_unreadable_last_record_stops_the_open()
    {
        using (OpenWith(3))
        {
        }

        EditLines(lines => lines[2] = "{\"sequence\":\"three\"}");

        var error = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains("last record cannot be read", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Concurrent_appends_keep_one_unbroken_chain()
    {
        const int Threads = 16;
        const int PerThread = 250;
        var database = MetadataDatabase.Open(_dir.Combine("metadata.db"));
        using var log = Open(database);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                log.Append(Entry("KeyUnwrap", $"t{t}-k{i}"));
            }
        });

        watch.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine($"{Threads * PerThread} appends from {Threads} threads in {watch.ElapsedMilliseconds} ms");
        var records = log.List(new AuditQuery(null, null, null, 0, int.MaxValue));
        Assert.Equal(Enumerable.Range(1, Threads * PerThread).Select(i => (long)i), records.Select(r => r.Sequence));
        Assert.Equal(new AuditVerification(true, Threads * PerThread, null, null), log.Verify());
        log.Flush();
        Assert.Equal(Threads * PerThread, log.DurableSequence);
    }

    [Fact]
    public void The_flusher_makes_appends_durable_and_advances_the_anchor_without_being_asked()
    {
        var database = MetadataDatabase.Open(_dir.Combine("metadata.db"));
        using var log = Open(database);
        var record = log.Append(Entry("KeyCreate", "k"));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (log.DurableSequence < record.Sequence && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(5);
        }

        Assert.Equal(record.Sequence, log.DurableSequence);
        var anchored = new AuditAnchor(database).Read();
        for (var i = 0; i < 200 && anchored?.Sequence != record.Sequence; i++)
        {
            Thread.Sleep(5);
            anchored = new AuditAnchor(database).Read();
        }

        Assert.Equal((record.Sequence, record.Hash), anchored);
    }

    [Fact]
    public void List_filters_by_vault_and_time_and_pages_after_a_sequence()
    {
        using var log = Open();
        for (var i = 0; i < 1200; i++)
        {
            log.Append(Entry("KeyGet", $"k{i}", vault: i % 3 == 0 ? "Alpha" : "beta"));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        var alpha = log.List(new AuditQuery("alpha", null, null, 0, 1000));
        Assert.Equal(400, alpha.Count);
        Assert.All(alpha, r => Assert.Equal("Alpha", r.Entry.Vault));

        var page = log.List(new AuditQuery(null, null, null, 1000, 5));
        Assert.Equal([1001L, 1002, 1003, 1004, 1005], page.Select(r => r.Sequence));

        var start = new DateTimeOffset(2026, 11, 29, 12, 0, 10, TimeSpan.Zero);
        var window = log.List(new AuditQuery(null, start, start.AddSeconds(3), 0, 100));
        Assert.Equal([11L, 12, 13], window.Select(r => r.Sequence));
    }

    [Fact]
    public void The_file_and_its_directory_are_owner_only()
    {
        using var log = Open();
        log.Append(Entry("KeyGet", "k"));
        if (OperatingSystem.IsWindows())
        {
            return;   // No POSIX modes: the data directory's ACL applies.
        }


        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(LogPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(KeyVaultDirectory));
    }

    [Fact]
    public void An_existing_file_with_loose_permissions_is_made_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return;   // No POSIX modes: the data directory's ACL applies.
        }

        Directory.CreateDirectory(KeyVaultDirectory);
        File.WriteAllText(LogPath, string.Empty);
        File.SetUnixFileMode(LogPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        using var log = Open();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(LogPath));
    }

    [Fact]
    public void Append_after_dispose_is_refused()
    {
        var log = Open();
        log.Dispose();

        Assert.Throws<ObjectDisposedException>(() => log.Append(Entry("KeyGet", "k")));
    }

    private static AuditEntry Entry(string operation, string key, int status = 200, string result = "Success", string vault = "vault1") =>
        new(Tenant, Caller, null, vault, operation, key, "0123456789abcdef0123456789abcdef", status, result, "127.0.0.1");

    /// <summary>SHA-256 over ASCII(previousHash) and the line with its hash property removed, as docs/keyvault/audit-and-events.md says.</summary>
    private static string ExternalHash(string previousHash, string line)
    {
        var withoutHash = line[..line.LastIndexOf(",\"hash\":", StringComparison.Ordinal)] + "}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(previousHash + withoutHash)));
    }

    private static void AssertBroken(AuditVerification verification, long sequence, string problemContains)
    {
        Assert.False(verification.Valid);
        Assert.Equal(sequence, verification.FirstBrokenSequence);
        Assert.Contains(problemContains, verification.Problem, StringComparison.Ordinal);
    }

    private FileAuditLog Open(MetadataDatabase? database = null) => new(KeyVaultDirectory, _time, database);

    private FileAuditLog OpenWith(int records, MetadataDatabase? database = null)
    {
        var log = Open(database);
        for (var i = 0; i < records; i++)
        {
            log.Append(Entry("KeyGet", $"k{i}"));
        }

        Assert.True(log.Verify().Valid);
        return log;
    }

    private void EditLines(Action<List<string>> edit)
    {
        var lines = File.ReadAllLines(LogPath).ToList();
        edit(lines);
        File.WriteAllText(LogPath, string.Concat(lines.Select(l => l + "\n")));
    }
}
