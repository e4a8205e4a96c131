// Where the NBD server finds exports by name: the host's export registry implements it (a running
// VM's disks, or the development scratch volume). Opening may be refused per client.
namespace Ironclad.Nbd.Exports;

public interface INbdExportCatalog
{
    /// <summary>Exports this client may see (NBD_OPT_LIST).</summary>
    IReadOnlyList<NbdExportDescription> List(NbdClient client);

    /// <summary>Describes one export without opening it (NBD_OPT_INFO), or null if there is none the client may see.</summary>
    NbdExportDescription? Describe(string name, NbdClient client);

    /// <summary>Opens an export for one connection (NBD_OPT_GO / EXPORT_NAME). Null if unknown or not allowed. Disposed when the connection ends.</summary>
    INbdExport? Open(string name, NbdClient client);
}

public sealed record NbdExportDescription(string Name, string? Description, long SizeBytes, bool IsReadOnly, bool CanMultiConnect);

/// <summary>Who is asking: the remote endpoint and, with mutual TLS, the client certificate's subject.</summary>
public sealed record NbdClient(System.Net.EndPoint? RemoteEndPoint, bool IsTls, string? CertificateSubject);
