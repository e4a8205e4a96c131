// The run-time side of virtual machines: a running VM is its disks opened (DEKs unwrapped afresh
// through the vault as each disk's set identity) and served as one NBD export per disk to whoever
// holds the VM's client certificate. Invariants: start is all or nothing (a disk the vault refuses
// leaves nothing open); stop withdraws the exports first (calls in flight finish, later ones fail),
// then closes the sessions and zeroes the DEKs; the runtime holds no state on disk — the VM
// resource (IVmDirectory) records what should be running and why a VM was stopped.
using Ironclad.Compute.Sessions;

namespace Ironclad.Compute.VirtualMachines;

/// <summary>One disk of a VM as the runtime sees it.</summary>
/// <param name="DiskId">The disk's ARM id.</param>
/// <param name="Lun">Null for the OS disk, else the data disk's LUN.</param>
public sealed record VmDisk(string DiskId, string DiskName, Guid VolumeId, int? Lun);

/// <summary>A VM as the runtime needs it.</summary>
/// <param name="VmId">The VM's ARM id (for a scale-set instance: .../virtualMachineScaleSets/{s}/virtualMachines/{i}).</param>
/// <param name="VmUniqueId">properties.vmId: names the exports and the client certificate (CN=vm-{VmUniqueId}).</param>
public sealed record VmRuntimeSpec(string VmId, Guid VmUniqueId, string Name, IReadOnlyList<VmDisk> Disks);

/// <summary>One disk's NBD export while the VM runs.</summary>
public sealed record VmExport(string DiskId, string DiskName, int? Lun, string ExportName);

/// <summary>What the runtime knows of a running VM.</summary>
/// <param name="NbdAddress">HOST:PORT of the NBD listener (endpoints.json's `nbd`).</param>
/// <param name="ClientCertificateSubject">The subject a client certificate must carry (CN=vm-{vmId}).</param>
public sealed record VmRunningState(string VmId, string NbdAddress, string TlsMode, string ClientCertificateSubject, IReadOnlyList<VmExport> Exports, DateTimeOffset Since);

/// <summary>The server stopped a running VM on its own (revocation): what, why, when.</summary>
/// <param name="Code">The ARM code of the key failure (KeyAccessErrors.CodeOf), e.g. KeyDisabled.</param>
/// <param name="Reason">Names the key and what is missing; never a secret.</param>
public sealed record VmStoppedByServer(string VmId, string Code, string Reason, DateTimeOffset At);

public interface IVmRuntime
{
    /// <summary>Opens every disk and publishes its export; all or nothing. Idempotent for a running VM (returns its state).</summary>
    /// <exception cref="KeyAccess.KeyAccessException">A disk's key or access is gone; nothing was left open.</exception>
    Task<VmRunningState> StartAsync(VmRuntimeSpec vm, CancellationToken cancellationToken);

    /// <summary>Withdraws the exports, flushes and closes the sessions, zeroes the DEKs. No-op when not running.</summary>
    Task StopAsync(string vmId, CancellationToken cancellationToken);

    /// <summary>Hot-adds one disk to a running VM (opens it and publishes its export); no-op when the VM is not running.</summary>
    /// <exception cref="KeyAccess.KeyAccessException">The disk's key or access is gone.</exception>
    Task AttachAsync(string vmId, VmDisk disk, CancellationToken cancellationToken);

    /// <summary>Hot-removes one disk of a running VM (export withdrawn, session closed); no-op when not attached or not running.</summary>
    Task DetachAsync(string vmId, string diskId, CancellationToken cancellationToken);

    /// <summary>The running state, or null when the VM is not running here.</summary>
    VmRunningState? Find(string vmId);

    /// <summary>The VMs running now.</summary>
    IReadOnlyList<VmRunningState> Running();

    /// <summary>Raised after the server stopped a VM by itself (on the runtime's thread); the VM resource records it.</summary>
    event Action<VmStoppedByServer>? StoppedByServer;
}

/// <summary>The NBD side, implemented by the host over its export registry and listener (Compute knows no NBD).</summary>
public interface IVmDiskExports
{
    /// <summary>HOST:PORT clients connect to.</summary>
    string NbdAddress { get; }

    /// <summary>"required" (TLS, client certificate checked per export) or "mutual"; VM exports are never served without TLS.</summary>
    string TlsMode { get; }

    /// <summary>Publishes <paramref name="session"/> as <paramref name="exportName"/>, visible and openable only by a
    /// TLS client whose certificate chains to the server's CA and carries <paramref name="clientCertificateSubject"/>.</summary>
    void Publish(string exportName, IDiskSession session, string clientCertificateSubject);

    /// <summary>Unpublishes and closes every connection's handle (in-flight calls finish, later ones fail). False if not published.</summary>
    bool Withdraw(string exportName);
}

/// <summary>A VM's NBD client credentials: what qemu's tls-creds-x509 (dir with ca-cert.pem, client-cert.pem, client-key.pem) and libnbd need.</summary>
/// <param name="PrivateKeyPem">The client key: returned once, never stored or logged by the server.</param>
public sealed record VmNbdCredentials(string Subject, string CaCertificatePem, string CertificatePem, string PrivateKeyPem, DateTimeOffset ExpiresOn)
{
    /// <summary>Names the certificate only: the record's generated text would carry the private key into any log or error it reached.</summary>
    public override string ToString() => $"VmNbdCredentials {{ Subject = {Subject}, ExpiresOn = {ExpiresOn:o} }}";
}

/// <summary>Issues per-VM client certificates from the server's CA (implemented by the host, which holds the CA).</summary>
public interface IVmNbdCredentialIssuer
{
    /// <summary>A fresh key pair and a certificate with subject CN=vm-{vmUniqueId} and clientAuth, valid for <paramref name="validity"/>.</summary>
    VmNbdCredentials Issue(Guid vmUniqueId, TimeSpan validity);
}

/// <summary>Names shared by the runtime, the resource and the tests.</summary>
public static class VmNbdNames
{
    public static string ClientCertificateSubject(Guid vmUniqueId) => $"CN=vm-{vmUniqueId:D}";

    /// <summary>vm/{vmId}/os for the OS disk, vm/{vmId}/lun/{n} for a data disk.</summary>
    public static string ExportName(Guid vmUniqueId, int? lun) =>
        lun is null ? $"vm/{vmUniqueId:D}/os" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"vm/{vmUniqueId:D}/lun/{lun}");
}
