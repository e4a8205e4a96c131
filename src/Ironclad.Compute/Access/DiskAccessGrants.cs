// beginGetAccess / endGetAccess: grants of SAS access to a disk's or snapshot's data, each holding
// one disk session, and the check the data path runs on every request. Invariants: a grant exists
// only after a fresh unwrap succeeded; the URL's signature binds grant, volume, permissions and
// expiry under a per-process secret (a restart ends every grant); an ended, expired or revoked grant
// is refused at once; diskState is ActiveSAS / ActiveUpload exactly while grants are open; no URL,
// token or grant id is ever logged.
using Ironclad.Compute.Disks;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Sessions;
using Ironclad.ResourceManager.Providers;
using Microsoft.Extensions.Logging;

namespace Ironclad.Compute.Access;

/// <summary>What the data path gets for a request: the grant, or the storage-style error to answer.</summary>
public sealed record SasCheck(DiskAccessGrant? Grant, int Status, string? ErrorCode, string? Message)
{
    public bool IsAllowed => Grant is not null;
}

public sealed partial class DiskAccessGrants : IDiskAccessGrants, IDisposable
{
    /// <summary>The data path's root on the ARM origin: {origin}/disk-data/{grantId}/{BlobName}?{sas}.</summary>
    public const string PathPrefix = "/disk-data";

    /// <summary>The blob's name in the URL (Azure's disk SAS URLs use "abcd" too).</summary>
    public const string BlobName = "abcd";

    private const string AuthenticationFailedMessage =
        "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";

    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    private readonly IDiskSessions _sessions;
    private readonly IDiskDirectory _disks;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SasSignature _signature = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, DiskAccessGrant> _grants = [];
    private readonly ITimer _sweeper;

    public DiskAccessGrants(IDiskSessions sessions, IDiskDirectory disks, TimeProvider time, ILogger<DiskAccessGrants> logger)
    {
        _sessions = sessions ?? throw new ArgumentNullException(nameof(sessions));
        _disks = disks ?? throw new ArgumentNullException(nameof(disks));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _sweeper = time.CreateTimer(_ => SweepExpired(), null, SweepInterval, SweepInterval);
    }

    public async Task<Uri> GrantAsync(DiskInfo disk, DiskAccessLevel access, TimeSpan duration, Uri baseUri, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(baseUri);
        if (duration <= TimeSpan.Zero)
        {
            throw new ArmException(400, "InvalidParameter", "The value of parameter durationInSeconds is invalid: give a positive number of seconds.");
        }

        var kind = KindName(disk.Kind);
        if (disk.Kind == DiskResourceKind.ImageDisk)
        {
            throw new ArmException(400, "OperationNotAllowed", "Access can be granted to disks and snapshots only, not to an image's disks.");
        }

        var (allowedFrom, target) = Transition(disk, access);
        var grantId = Guid.NewGuid();
        IDiskSession session;
        try
        {
            session = await _sessions.OpenAsync(disk.VolumeId, $"sas:{grantId:N}", cancellationToken).ConfigureAwait(false);
        }
        catch (KeyAccessException e)
        {
            // The caller (the disks type) maps it to the ARM error all disk operations use.
            LogGrantRefused(_logger, disk.ResourceId, e.KeyUrl, e.Failure);
            throw;
        }

        try
        {
            var now = _time.GetUtcNow();
            // Whole seconds: the URL carries the expiry to the second, and the check uses the same instant.
            var expiresOn = TruncateToSecond(now + duration);
            var grant = new DiskAccessGrant(grantId, disk.ResourceId, disk.Name, disk.VolumeId, access, now, expiresOn, session,
                presentFooter: access == DiskAccessLevel.Read && !EndsWithVhdFooter(session));
            lock (_lock)
            {
                var state = _disks.Find(disk.ResourceId)?.DiskState
                    ?? throw new ArmException(404, "ResourceNotFound", $"The {kind} '{disk.Name}' was not found.");
                if (state != target)
                {
                    if (!allowedFrom.Contains(state) || !_disks.TrySetDiskState(disk.ResourceId, state, target))
                    {
                        throw StateConflict(disk, access, state);
                    }
                }

                if (session.RevokedReason is { } revoked)
                {
                    // Revoked between the unwrap and now: the answer that let us open is stale.
                    ReturnToRest(disk.ResourceId, disk.VolumeId, endedByUser: false);
                    throw new KeyAccessException(KeyAccessFailure.Other, "", revoked);
                }

                _grants.Add(grantId, grant);
            }

            LogGranted(_logger, disk.ResourceId, access, expiresOn);
            var query = _signature.QueryFor(grantId, disk.VolumeId, access, expiresOn);
            var origin = baseUri.GetLeftPart(UriPartial.Authority);
            return new Uri($"{origin}{PathPrefix}/{grantId:N}/{BlobName}?{query}");
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public Task<bool> EndAsync(DiskInfo disk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(disk);
        var ended = EndGrants(disk.VolumeId, "The access was ended (endGetAccess).");
        bool stateChanged;
        lock (_lock)
        {
            stateChanged = ReturnToRest(disk.ResourceId, disk.VolumeId, endedByUser: true);
        }

        if (ended > 0)
        {
            LogEnded(_logger, disk.ResourceId, ended, "endGetAccess");
        }

        return Task.FromResult(ended > 0 || stateChanged);
    }

    public bool HasGrant(Guid volumeId)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            return _grants.Values.Any(g => g.VolumeId == volumeId && !g.IsEnded && g.ExpiresOn > now);
        }
    }

    /// <summary>
    /// Revocation: ends every grant on the volume (their URLs are refused from now on, naming
    /// <paramref name="reason"/>) and returns the disk to rest. Returns how many grants were open.
    /// </summary>
    public int EndForRevocation(Guid volumeId, string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        var ended = EndGrants(volumeId, $"Access to the disk was revoked: {reason}");
        if (_disks.FindByVolume(volumeId) is { } disk)
        {
            lock (_lock)
            {
                ReturnToRest(disk.ResourceId, volumeId, endedByUser: false);
            }
        }

        return ended;
    }

    /// <summary>
    /// At start: grants do not survive a restart (their secret was in the old process), so a disk
    /// left in ActiveSAS returns to Unattached and one left in ActiveUpload to ReadyToUpload.
    /// </summary>
    public int ResetStaleStates()
    {
        var reset = 0;
        lock (_lock)
        {
            foreach (var disk in _disks.All().Where(d => d.Kind != DiskResourceKind.ImageDisk))
            {
                if (!_grants.Values.Any(g => g.VolumeId == disk.VolumeId && !g.IsEnded)
                    && ReturnToRest(disk.ResourceId, disk.VolumeId, endedByUser: false))
                {
                    reset++;
                }
            }
        }

        return reset;
    }

    /// <summary>The data path's check of one request: grant id from the path, SAS parameters from the query.</summary>
    public SasCheck Authorize(string grantIdText, SasParameters parameters, bool write)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        DiskAccessGrant? grant = null;
        if (Guid.TryParseExact(grantIdText, "N", out var grantId))
        {
            lock (_lock)
            {
                _grants.TryGetValue(grantId, out grant);
            }
        }

        // An unknown grant and a wrong signature look the same from outside.
        if (grant is null || !_signature.Verify(grant.GrantId, grant.VolumeId, parameters))
        {
            return Refuse(403, "AuthenticationFailed", $"{AuthenticationFailedMessage}\nAuthenticationErrorDetail: Signature did not match.");
        }

        var now = _time.GetUtcNow();
        if (now >= grant.ExpiresOn)
        {
            return Refuse(403, "AuthenticationFailed",
                $"{AuthenticationFailedMessage}\nAuthenticationErrorDetail: Signature not valid in the specified time frame: Expiry [{SasSignature.FormatExpiry(grant.ExpiresOn)}] - Current [{SasSignature.FormatExpiry(now)}]");
        }

        if (grant.EndedReason is { } ended)
        {
            return Refuse(403, "AuthenticationFailed", $"{AuthenticationFailedMessage}\nAuthenticationErrorDetail: {ended}");
        }

        if (write && grant.Access != DiskAccessLevel.Write)
        {
            return Refuse(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
        }

        return new SasCheck(grant, 200, null, null);
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        List<DiskAccessGrant> open;
        lock (_lock)
        {
            open = [.. _grants.Values];
            _grants.Clear();
        }

        foreach (var grant in open)
        {
            grant.MarkEnded("The server is shutting down.");
            grant.Session.Dispose();
        }

        _signature.Dispose();
    }

    /// <summary>Ends expired grants: their sessions close and their disks return to rest.</summary>
    internal void SweepExpired()
    {
        var now = _time.GetUtcNow();
        List<DiskAccessGrant> expired;
        lock (_lock)
        {
            expired = [.. _grants.Values.Where(g => !g.IsEnded && g.ExpiresOn <= now)];
            // Ended grants are kept until they expire so their URL says why it is refused; then they go.
            foreach (var gone in _grants.Values.Where(g => g.IsEnded && g.ExpiresOn <= now).ToList())
            {
                _grants.Remove(gone.GrantId);
            }
        }

        foreach (var grant in expired)
        {
            try
            {
                grant.MarkEnded("The access grant has expired.");
                grant.Session.Dispose();
                lock (_lock)
                {
                    _grants.Remove(grant.GrantId);
                    ReturnToRest(grant.ResourceId, grant.VolumeId, endedByUser: false);
                }

                LogEnded(_logger, grant.ResourceId, 1, "expired");
            }
#pragma warning disable CA1031 // A timer callback must not throw; the failure is logged and the next sweep retries the state.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogSweepFailed(_logger, grant.ResourceId, e);
            }
        }
    }

    private int EndGrants(Guid volumeId, string reason)
    {
        List<DiskAccessGrant> ending;
        lock (_lock)
        {
            ending = [.. _grants.Values.Where(g => g.VolumeId == volumeId && !g.IsEnded)];
            foreach (var grant in ending)
            {
                grant.MarkEnded(reason);
            }
        }

        foreach (var grant in ending)
        {
            grant.Session.Dispose();
        }

        return ending.Count;
    }

    /// <summary>
    /// Under _lock: when no open grant remains on the volume, ActiveSAS → Unattached and ActiveUpload →
    /// Unattached after endGetAccess (the upload is done) or ReadyToUpload otherwise (expired, revoked,
    /// restarted: the upload was interrupted and may be granted again). True when the state changed.
    /// </summary>
    private bool ReturnToRest(string resourceId, Guid volumeId, bool endedByUser)
    {
        var now = _time.GetUtcNow();
        if (_grants.Values.Any(g => g.VolumeId == volumeId && !g.IsEnded && g.ExpiresOn > now))
        {
            return false;
        }

        var state = _disks.Find(resourceId)?.DiskState;
        return state switch
        {
            DiskStates.ActiveSas => _disks.TrySetDiskState(resourceId, DiskStates.ActiveSas, DiskStates.Unattached),
            DiskStates.ActiveUpload => _disks.TrySetDiskState(resourceId, DiskStates.ActiveUpload,
                endedByUser ? DiskStates.Unattached : DiskStates.ReadyToUpload),
            _ => false,
        };
    }

    /// <summary>Whether the volume's last sector is a VHD footer (an uploaded VHD): then the blob is the volume as is.</summary>
    private static bool EndsWithVhdFooter(IDiskSession session)
    {
        if (session.SizeBytes < VhdFooter.SizeBytes)
        {
            return false;
        }

        Span<byte> last = stackalloc byte[VhdFooter.SizeBytes];
        session.Read(session.SizeBytes - VhdFooter.SizeBytes, last);
        var isFooter = VhdFooter.IsFooter(last);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(last);
        return isFooter;
    }

    private static (string[] AllowedFrom, string Target) Transition(DiskInfo disk, DiskAccessLevel access)
    {
        if (access == DiskAccessLevel.Write)
        {
            if (disk.Kind != DiskResourceKind.Disk)
            {
                throw new ArmException(409, "OperationNotAllowed", $"Write access can only be granted to a disk created for upload; '{disk.Name}' is a snapshot.");
            }

            return ([DiskStates.ReadyToUpload], DiskStates.ActiveUpload);
        }

        return ([DiskStates.Unattached], DiskStates.ActiveSas);
    }

    private static ArmException StateConflict(DiskInfo disk, DiskAccessLevel access, string state)
    {
        var kind = KindName(disk.Kind);
        return (access, state) switch
        {
            (DiskAccessLevel.Write, _) => new ArmException(409, "OperationNotAllowed",
                $"Write access can only be granted to a disk in state ReadyToUpload (created with createOption Upload); {kind} '{disk.Name}' is {state}."),
            (_, DiskStates.ReadyToUpload or DiskStates.ActiveUpload) => new ArmException(409, "OperationNotAllowed",
                $"The {kind} '{disk.Name}' is {state}: grant Write access to upload its data, then end the access before granting Read."),
            _ => new ArmException(409, "OperationNotAllowed",
                $"Read access cannot be granted to {kind} '{disk.Name}' while it is {state}; detach it (or end its access) first."),
        };
    }

    private static string KindName(DiskResourceKind kind) => kind switch
    {
        DiskResourceKind.Snapshot => "snapshot",
        DiskResourceKind.ImageDisk => "image disk",
        _ => "disk",
    };

    private static DateTimeOffset TruncateToSecond(DateTimeOffset at) =>
        new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    private static SasCheck Refuse(int status, string code, string message) => new(null, status, code, message);

    [LoggerMessage(EventId = 6300, Level = LogLevel.Information, Message = "Granted {Access} access to {ResourceId} until {ExpiresOn:o}")]
    private static partial void LogGranted(ILogger logger, string resourceId, DiskAccessLevel access, DateTimeOffset expiresOn);

    [LoggerMessage(EventId = 6301, Level = LogLevel.Warning, Message = "Refused access to {ResourceId}: the vault refused key {KeyUrl} ({Failure})")]
    private static partial void LogGrantRefused(ILogger logger, string resourceId, string keyUrl, KeyAccessFailure failure);

    [LoggerMessage(EventId = 6302, Level = LogLevel.Information, Message = "Ended {Count} access grant(s) on {ResourceId}: {Cause}")]
    private static partial void LogEnded(ILogger logger, string resourceId, int count, string cause);

    [LoggerMessage(EventId = 6303, Level = LogLevel.Error, Message = "Ending an expired access grant on {ResourceId} failed")]
    private static partial void LogSweepFailed(ILogger logger, string resourceId, Exception exception);
}
