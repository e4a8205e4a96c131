// The NBD side of running VMs (IVmDiskExports): a VM disk session published in the export registry,
// visible and openable only by a TLS client whose validated certificate carries the VM's subject.
// Invariants: VM disks are never served without TLS (Publish refuses on a --nbd-tls off server);
// Withdraw closes every connection's handle before it returns (in-flight calls finish first).
using System.Globalization;
using Ironclad.Compute.Sessions;
using Ironclad.Compute.VirtualMachines;
using Ironclad.Host.Server;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Host.Exports;

internal sealed class VmDiskExports : IVmDiskExports
{
    private readonly ExportRegistry _registry;
    private readonly NbdListener _listener;
    private readonly System.Net.IPAddress _bindAddress;
    private readonly NbdTls _tls;

    public VmDiskExports(ExportRegistry registry, NbdListener listener, System.Net.IPAddress bindAddress, NbdTls tls)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(bindAddress);
        _registry = registry;
        _listener = listener;
        _bindAddress = bindAddress;
        _tls = tls;
    }

    /// <summary>What endpoints.json publishes as `nbd`: the bound port, a wildcard bind as 127.0.0.1.</summary>
    public string NbdAddress => NbdListener.PublishedAddress(_bindAddress, _listener.LocalEndPoint.Port);

    public string TlsMode => _tls.ToArgument();

    public void Publish(string exportName, IDiskSession session, string clientCertificateSubject)
    {
        ArgumentException.ThrowIfNullOrEmpty(exportName);
        ArgumentNullException.ThrowIfNull(session);
        ArgumentException.ThrowIfNullOrEmpty(clientCertificateSubject);
        if (_tls == NbdTls.Off)
        {
            throw new ArmException(
                409,
                "OperationNotAllowed",
                "VM disks are never served over plain NBD, and this server runs with --nbd-tls off. " +
                "Restart it with --nbd-tls required (the default) or --nbd-tls mutual to start VMs.");
        }

        var registration = new ExportRegistration(
            exportName,
            description: null,
            () => new ExportShape(session.SizeBytes, session.IsReadOnly, CanMultiConnect: true),
            _ => new SessionExport(session))
        {
            IsVisibleTo = client => client.IsTls && string.Equals(client.CertificateSubject, clientCertificateSubject, StringComparison.Ordinal),
        };

        if (!_registry.TryAdd(registration))
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"The NBD export '{exportName}' is already published."));
        }
    }

    public bool Withdraw(string exportName)
    {
        ArgumentNullException.ThrowIfNull(exportName);
        return _registry.Remove(exportName);
    }
}
