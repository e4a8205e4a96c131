// The audit chain's head, kept outside audit.log in the metadata database, so that cutting records off
// the end of the file (or replacing the file by a re-hashed copy) is detected by Verify.
// Invariant: the anchor is written only after the records it names were fsynced, so it never names a
// record a crash can take away; it only ever moves forward.
using Ironclad.Metadata;

namespace Ironclad.KeyVault.Audit;

public sealed class AuditAnchor
{
    private const string Component = "keyvault.audit";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE keyvault_audit_anchor (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            sequence INTEGER NOT NULL,
            hash TEXT NOT NULL);
        """,
    ];

    private readonly MetadataDatabase _database;

    public AuditAnchor(MetadataDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _database.Migrate(Component, Migrations);
    }

    /// <summary>The anchored head (sequence, hash), or null before the first flush.</summary>
    public (long Sequence, string Hash)? Read()
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sequence, hash FROM keyvault_audit_anchor WHERE id = 1";
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetString(1)) : null;
    }

    /// <summary>Moves the anchor to (sequence, hash) if that is further than where it is.</summary>
    public void Advance(long sequence, string hash)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO keyvault_audit_anchor (id, sequence, hash) VALUES (1, $sequence, $hash)
            ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash
            WHERE excluded.sequence > keyvault_audit_anchor.sequence
            """;
        command.Parameters.AddWithValue("$sequence", sequence);
        command.Parameters.AddWithValue("$hash", hash);
        command.ExecuteNonQuery();
    }
}
