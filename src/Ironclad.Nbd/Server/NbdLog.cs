// Every log event of the NBD server, with stable event ids. Parameters are endpoints, export
// names, option and command numbers: never data, keys or certificate private material.
using System.Net;
using Microsoft.Extensions.Logging;

namespace Ironclad.Nbd.Server;

internal static partial class NbdLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "NBD server listening on {EndPoint} (TLS: {TlsMode})")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint, NbdTlsMode tlsMode);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "NBD connection from {Remote}")]
    public static partial void Accepted(ILogger logger, EndPoint? remote);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "NBD client {Remote} attached export '{Export}' (TLS: {Tls}, structured replies: {Structured})")]
    public static partial void ExportAttached(ILogger logger, EndPoint? remote, string export, bool tls, bool structured);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug, Message = "NBD connection from {Remote} closed: {Reason}")]
    public static partial void Closed(ILogger logger, EndPoint? remote, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "NBD client {Remote} broke the protocol, disconnecting: {Violation}")]
    public static partial void ProtocolViolation(ILogger logger, EndPoint? remote, string violation);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "NBD client {Remote} failed the TLS handshake: {Reason}")]
    public static partial void TlsFailed(ILogger logger, EndPoint? remote, string reason);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Error, Message = "NBD request {Command} on export '{Export}' failed unexpectedly; reported as EIO")]
    public static partial void RequestFailed(ILogger logger, string command, string export, Exception exception);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "NBD connection refused from {Remote}: {ConnectionsMax} connections already open")]
    public static partial void TooManyConnections(ILogger logger, EndPoint? remote, int connectionsMax);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "NBD client {Remote} asked for unknown or forbidden export '{Export}'")]
    public static partial void ExportRefused(ILogger logger, EndPoint? remote, string export);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Error, Message = "NBD connection from {Remote} failed unexpectedly")]
    public static partial void ConnectionFailed(ILogger logger, EndPoint? remote, Exception exception);
}
