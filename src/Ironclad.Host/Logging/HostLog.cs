// Every log event the host writes, in one place with stable event ids, so log-based tooling can
// key off ids and names. Parameters are paths, thumbprints and addresses only: never key
// material, tokens or secrets.
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Logging;

internal static partial class HostLog
{
    [LoggerMessage(EventId = 1000, EventName = "ServerStarting", Level = LogLevel.Information,
        Message = "Starting ironclad server on data directory {DataDirectory} (created: {Created})")]
    public static partial void ServerStarting(ILogger logger, string dataDirectory, bool created);

    [LoggerMessage(EventId = 1001, EventName = "ServerStarted", Level = LogLevel.Information,
        Message = "Ironclad server started: {Url}, NBD {Nbd}, endpoints in {EndpointsFile}")]
    public static partial void ServerStarted(ILogger logger, string url, string nbd, string endpointsFile);

    [LoggerMessage(EventId = 1002, EventName = "ServerStopping", Level = LogLevel.Information,
        Message = "Shutdown requested, stopping ironclad server")]
    public static partial void ServerStopping(ILogger logger);

    [LoggerMessage(EventId = 1003, EventName = "ServerStopped", Level = LogLevel.Information,
        Message = "Ironclad server stopped")]
    public static partial void ServerStopped(ILogger logger);

    [LoggerMessage(EventId = 1004, EventName = "ServerStartFailed", Level = LogLevel.Critical,
        Message = "Ironclad server could not start: {Reason}")]
    public static partial void ServerStartFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1005, EventName = "ServerFailed", Level = LogLevel.Critical,
        Message = "Ironclad server failed unexpectedly")]
    public static partial void ServerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1006, EventName = "DataDirectoryTooOpen", Level = LogLevel.Warning,
        Message = "Data directory {DataDirectory} is accessible to group or others; it holds private keys, consider chmod 700")]
    public static partial void DataDirectoryTooOpen(ILogger logger, string dataDirectory);

    public static void CertificateAuthorityCreated(ILogger logger, X509Certificate2 certificate, string path)
    {
        var notAfter = Iso8601(certificate.NotAfter);
        CertificateAuthorityCreated(logger, certificate.Subject, certificate.Thumbprint, notAfter, path);
    }

    public static void CertificateAuthorityLoaded(ILogger logger, X509Certificate2 certificate, string path)
    {
        var notAfter = Iso8601(certificate.NotAfter);
        CertificateAuthorityLoaded(logger, certificate.Subject, certificate.Thumbprint, notAfter, path);
    }

    public static void ServerCertificateIssued(ILogger logger, X509Certificate2 certificate, string subjectAlternativeNames, string reason, string path)
    {
        var notAfter = Iso8601(certificate.NotAfter);
        ServerCertificateIssued(logger, certificate.Thumbprint, notAfter, subjectAlternativeNames, reason, path);
    }

    public static void ServerCertificateReused(ILogger logger, X509Certificate2 certificate, string path)
    {
        var notAfter = Iso8601(certificate.NotAfter);
        ServerCertificateReused(logger, certificate.Thumbprint, notAfter, path);
    }

    // The JSON formatter writes state with ToString(); an ISO 8601 string reads the same everywhere.
    private static string Iso8601(DateTime time) =>
        time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    [LoggerMessage(EventId = 1100, EventName = "CertificateAuthorityCreated", Level = LogLevel.Information,
        Message = "Created local CA {Subject} (thumbprint {Thumbprint}, valid until {NotAfter}) at {Path}")]
    private static partial void CertificateAuthorityCreated(ILogger logger, string subject, string thumbprint, string notAfter, string path);

    [LoggerMessage(EventId = 1101, EventName = "CertificateAuthorityLoaded", Level = LogLevel.Information,
        Message = "Using local CA {Subject} (thumbprint {Thumbprint}, valid until {NotAfter}) from {Path}")]
    private static partial void CertificateAuthorityLoaded(ILogger logger, string subject, string thumbprint, string notAfter, string path);

    [LoggerMessage(EventId = 1102, EventName = "ServerCertificateIssued", Level = LogLevel.Information,
        Message = "Issued server certificate for {SubjectAlternativeNames} (thumbprint {Thumbprint}, valid until {NotAfter}) at {Path} because {Reason}")]
    private static partial void ServerCertificateIssued(ILogger logger, string thumbprint, string notAfter, string subjectAlternativeNames, string reason, string path);

    [LoggerMessage(EventId = 1103, EventName = "ServerCertificateReused", Level = LogLevel.Information,
        Message = "Using server certificate (thumbprint {Thumbprint}, valid until {NotAfter}) from {Path}")]
    private static partial void ServerCertificateReused(ILogger logger, string thumbprint, string notAfter, string path);

    [LoggerMessage(EventId = 1200, EventName = "VolumeStoreOpened", Level = LogLevel.Information,
        Message = "Volume store {Directory} opened: {VolumeCount} volumes and snapshots, {RecordsReplayed} journal records replayed, {ClustersInUse} clusters in use, recovery took {RecoveryMs} ms")]
    public static partial void VolumeStoreOpened(ILogger logger, string directory, int volumeCount, long recordsReplayed, long clustersInUse, long recoveryMs);

    [LoggerMessage(EventId = 1201, EventName = "VolumeStoreClosed", Level = LogLevel.Information,
        Message = "Volume store {Directory} closed cleanly (checkpoint written)")]
    public static partial void VolumeStoreClosed(ILogger logger, string directory);

    [LoggerMessage(EventId = 1300, EventName = "NbdStopped", Level = LogLevel.Information,
        Message = "NBD listener on {EndPoint} stopped")]
    public static partial void NbdStopped(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(EventId = 1310, EventName = "ExportAdded", Level = LogLevel.Information,
        Message = "NBD export {ExportName} registered")]
    public static partial void ExportAdded(ILogger logger, string exportName);

    [LoggerMessage(EventId = 1311, EventName = "ExportRemoved", Level = LogLevel.Information,
        Message = "NBD export {ExportName} removed")]
    public static partial void ExportRemoved(ILogger logger, string exportName);

    [LoggerMessage(EventId = 1312, EventName = "ExportUnavailable", Level = LogLevel.Warning,
        Message = "NBD export {ExportName} is registered but could not be described or opened ({Reason}); clients see no such export")]
    public static partial void ExportUnavailable(ILogger logger, string exportName, string reason);

    [LoggerMessage(EventId = 1400, EventName = "ScratchVolumeCreated", Level = LogLevel.Information,
        Message = "Scratch volume {VolumeId} created ({SizeBytes} bytes, cipher {Cipher}) in {Directory}")]
    public static partial void ScratchVolumeCreated(ILogger logger, Guid volumeId, long sizeBytes, string cipher, string directory);

    [LoggerMessage(EventId = 1401, EventName = "ScratchVolumeDeleted", Level = LogLevel.Information,
        Message = "Scratch volume {VolumeId} deleted")]
    public static partial void ScratchVolumeDeleted(ILogger logger, Guid volumeId);

    [LoggerMessage(EventId = 1402, EventName = "ScratchLeftoverDeleted", Level = LogLevel.Information,
        Message = "Deleted scratch volume {VolumeId} left by an earlier run (its key died with that process)")]
    public static partial void ScratchLeftoverDeleted(ILogger logger, Guid volumeId);

    [LoggerMessage(EventId = 1403, EventName = "NullCipherInUse", Level = LogLevel.Warning,
        Message = "Scratch volume {VolumeId} is served through the NULL cipher: its data is stored UNENCRYPTED (benchmarking only)")]
    public static partial void NullCipherInUse(ILogger logger, Guid volumeId);

    [LoggerMessage(EventId = 1404, EventName = "ScratchVolumeNotDeleted", Level = LogLevel.Warning,
        Message = "Scratch volume {VolumeId} could not be deleted ({Reason}); the next serve-scratch on this directory deletes it")]
    public static partial void ScratchVolumeNotDeleted(ILogger logger, Guid volumeId, string reason);

    [LoggerMessage(EventId = 1405, EventName = "ScratchDirectoryNotDeleted", Level = LogLevel.Warning,
        Message = "Temporary scratch directory {Directory} could not be deleted: {Reason}")]
    public static partial void ScratchDirectoryNotDeleted(ILogger logger, string directory, string reason);
}
