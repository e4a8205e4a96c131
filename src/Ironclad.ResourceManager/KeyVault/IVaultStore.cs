// Persistence of vaults (active and soft-deleted) for the Microsoft.KeyVault provider; SQLite today
// (SqliteVaultStore), PostgreSQL later. Invariants every implementation keeps: a name (compared
// case-insensitively) belongs to at most one vault, active or deleted, across all subscriptions; a
// port of the range belongs to at most one vault; creation checks both and allocates the port in one
// transaction; a replace succeeds only over the version it read (optimistic concurrency).
namespace Ironclad.ResourceManager.KeyVault;

public interface IVaultStore
{
    /// <summary>The vault (active or deleted) with this name, in any subscription; null if none.</summary>
    VaultRecord? Find(string name);

    /// <summary>The vault (active or deleted) that holds this port; null if none.</summary>
    VaultRecord? FindByPort(int port);

    /// <summary>Vaults of a subscription (all subscriptions when null), optionally one resource group, ordered by name.</summary>
    IReadOnlyList<VaultRecord> List(Guid? subscriptionId, string? resourceGroup, bool deleted);

    /// <summary>
    /// Inserts <paramref name="draft"/> (its Port and Version are ignored) with the lowest free port of
    /// <paramref name="ports"/>, atomically. Throws <see cref="VaultNameTakenException"/> when the name is
    /// held by any vault, <see cref="VaultPortsExhaustedException"/> when no port is free.
    /// </summary>
    VaultRecord Create(VaultRecord draft, VaultPortRange ports);

    /// <summary>Replaces the stored vault of the same name if its version is still <c>updated.Version</c>; returns the stored record (version + 1), or null if it changed meanwhile or is gone.</summary>
    VaultRecord? TryReplace(VaultRecord updated);

    /// <summary>Deletes the vault row (purge), freeing its name and port, if its version is still <paramref name="version"/>.</summary>
    bool TryPurge(string name, long version);

    /// <summary>Purges every deleted vault whose scheduled purge date is at or before <paramref name="now"/>; returns them.</summary>
    IReadOnlyList<VaultRecord> PurgeExpired(DateTimeOffset now);
}

/// <summary>The name is held by another vault (active or soft-deleted).</summary>
public sealed class VaultNameTakenException : Exception
{
    public VaultNameTakenException()
    {
    }

    public VaultNameTakenException(string message)
        : base(message)
    {
    }

    public VaultNameTakenException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Every port of the configured range is held by a vault (active or soft-deleted).</summary>
public sealed class VaultPortsExhaustedException : Exception
{
    public VaultPortsExhaustedException()
    {
    }

    public VaultPortsExhaustedException(string message)
        : base(message)
    {
    }

    public VaultPortsExhaustedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
