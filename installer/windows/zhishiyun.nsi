; Zhishiyun (智试云) Windows installer — NSIS 3, Unicode, per-machine.
;
; Build (installer/build.py does this):
;   makensis /DVERSION=0.1.0 /DPAYLOAD_DIR=dist\zhishiyun /DOUTFILE=dist\ZhishiyunSetup-0.1.0.exe installer\windows\zhishiyun.nsi
;
; Silent install for support staff:
;   ZhishiyunSetup.exe /S [/SERVER=https://exam.example.cn] [/CONFIG=C:\path\zhishiyun.toml] [/D=D:\Zhishiyun]
;   (/D= must come last and takes no quotes.)
; /SERVER= and /CONFIG= write the system config file %ProgramData%\Zhishiyun\zhishiyun.toml
; (the CONFIG file is copied byte for byte, a UTF-8 BOM dropped; SERVER is written as the first
; line; a CONFIG that sets server_url together with /SERVER= is refused). Without either the
; existing system file is kept. Either way the file gets a data_dir on the install drive,
; <drive>\ZhishiyunData, unless it (or the CONFIG file) already sets one: a machine-wide root
; where each Windows user's recordings go to a subdirectory only they (and administrators)
; can open. /UPDATE is what the client passes for a self-update: wait for
; the client to exit, keep directory and config, start the client again unelevated.
;
; Default directory: D:\Zhishiyun when D: is a fixed drive (切勿装C盘 - recordings need room),
; else %ProgramFiles%\Zhishiyun; an earlier install's directory wins over both.
;
; Exit codes (docs/deploy.md):
;   0 installed            1 cancelled by the user        2 aborted (NSIS: script error)
;   3 bad /SERVER= or /CONFIG= option (or both set server_url)
;   4 not running as administrator
;   5 the system config file could not be written
;   6 Windows older than 10
;   7 Zhishiyun is still running and did not exit within 60 s
;
; Uninstall: "%INSTDIR%\uninstall.exe" /S [/PURGE] — recordings and settings stay unless /PURGE,
; which also removes the data root the installer made (every user's recordings in it).

Unicode true
ManifestDPIAware true

!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef PAYLOAD_DIR
  !error "Define PAYLOAD_DIR: the PyInstaller one-folder bundle (dist\zhishiyun)"
!endif
!ifndef VI_VERSION  ; Windows file version: four numbers (build.py derives it from VERSION)
  !define VI_VERSION "${VERSION}.0"
!endif
!ifndef OUTFILE
  !define OUTFILE "ZhishiyunSetup-${VERSION}.exe"
!endif
!ifndef COMPRESSOR
  !define COMPRESSOR "lzma"
!endif

!define APP "Zhishiyun"
!define APP_CN "智试云"
!define EXE "zhishiyun.exe"
!define REG_KEY "Software\Zhishiyun"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Zhishiyun"
; with SetShellVarContext all, $APPDATA is %ProgramData%
!define CONFIG_DIR "$APPDATA\Zhishiyun"
!define CONFIG_FILE "$APPDATA\Zhishiyun\zhishiyun.toml"

!define EXIT_BAD_OPTION 3
!define EXIT_NOT_ADMIN 4
!define EXIT_CONFIG_WRITE 5
!define EXIT_OLD_WINDOWS 6
!define EXIT_STILL_RUNNING 7

Name "${APP_CN} ${APP} ${VERSION}"
OutFile "${OUTFILE}"
RequestExecutionLevel admin
SetCompressor /SOLID ${COMPRESSOR}
InstallDirRegKey HKLM "${REG_KEY}" "InstallDir"
ShowInstDetails show
BrandingText "${APP_CN} ${APP} ${VERSION}"
VIProductVersion "${VI_VERSION}"
VIAddVersionKey /LANG=0 "ProductName" "${APP}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileDescription" "${APP_CN} ${APP} installer"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "LegalCopyright" "Zhishiyun contributors, Apache-2.0"

!include MUI2.nsh
!include LogicLib.nsh
!include FileFunc.nsh
!include x64.nsh
!include WinVer.nsh

Var ServerUrl
Var DataRoot
Var WriteDataDir
Var ConfigSource
Var IsUpdate
Var Purge

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_FUNCTION LaunchUnelevated
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "SimpChinese"
!insertmacro MUI_LANGUAGE "English"

LangString MsgNotAdmin ${LANG_SIMPCHINESE} "请以管理员身份运行安装程序。"
LangString MsgNotAdmin ${LANG_ENGLISH} "Please run the installer as an administrator."
LangString MsgOldWindows ${LANG_SIMPCHINESE} "智试云需要 Windows 10 或更高版本。"
LangString MsgOldWindows ${LANG_ENGLISH} "Zhishiyun needs Windows 10 or later."
LangString MsgBadServer ${LANG_SIMPCHINESE} "/SERVER= 必须是 http:// 或 https:// 地址，且不含引号或反斜杠。"
LangString MsgBadServer ${LANG_ENGLISH} "/SERVER= must be an http:// or https:// URL without quotes or backslashes."
LangString MsgNoConfig ${LANG_SIMPCHINESE} "找不到 /CONFIG= 指定的配置文件："
LangString MsgNoConfig ${LANG_ENGLISH} "The /CONFIG= file was not found: "
LangString MsgBothServer ${LANG_SIMPCHINESE} "/CONFIG= 文件已设置 server_url，不能同时使用 /SERVER=。"
LangString MsgBothServer ${LANG_ENGLISH} "The /CONFIG= file already sets server_url; do not also pass /SERVER=."
LangString MsgConfigWrite ${LANG_SIMPCHINESE} "无法写入系统配置文件："
LangString MsgConfigWrite ${LANG_ENGLISH} "Cannot write the system config file: "
LangString MsgStillRunning ${LANG_SIMPCHINESE} "智试云仍在运行，请先退出后再安装。"
LangString MsgStillRunning ${LANG_ENGLISH} "Zhishiyun is still running; quit it and install again."
LangString MsgPurge ${LANG_SIMPCHINESE} "是否同时删除本机的录制文件、日志和设置？（默认保留）"
LangString MsgPurge ${LANG_ENGLISH} "Also delete this user's recordings, logs and settings? (kept by default)"

; --- helpers ------------------------------------------------------------------------------

!macro FailWith CODE MESSAGE
  MessageBox MB_ICONSTOP|MB_OK "${MESSAGE}" /SD IDOK
  SetErrorLevel ${CODE}
  Quit
!macroend

; $0 = 1 when $ServerUrl is an acceptable http(s) URL without " or \ characters
Function ValidateServerUrl
  StrCpy $0 0
  StrCpy $1 $ServerUrl 8
  StrCpy $2 $ServerUrl 7
  ${If} $1 != "https://"
  ${AndIf} $2 != "http://"
    Return
  ${EndIf}
  StrLen $3 $ServerUrl
  StrCpy $4 0
  ${DoWhile} $4 < $3
    StrCpy $5 $ServerUrl 1 $4
    ${If} $5 == '"'
    ${OrIf} $5 == "\"
    ${OrIf} $5 == " "
      Return
    ${EndIf}
    IntOp $4 $4 + 1
  ${Loop}
  StrCpy $0 1
FunctionEnd

; $0 = 1 when the file $R8 has a line starting with the key $R9 (0 also for no file)
Function FileSetsKey
  StrCpy $0 0
  StrLen $R7 $R9
  ClearErrors
  FileOpen $1 $R8 r
  ${If} ${Errors}
    Return
  ${EndIf}
  ${Do}
    ClearErrors
    FileRead $1 $2
    ${IfThen} ${Errors} ${|} ${ExitDo} ${|}
    StrCpy $3 $2 $R7
    ${If} $3 == $R9
      StrCpy $0 1
      ${ExitDo}
    ${EndIf}
  ${Loop}
  FileClose $1
FunctionEnd

; $DataRoot = <install drive>\ZhishiyunData; "" for a UNC install directory (no drive)
Function SetDataRoot
  StrCpy $DataRoot ""
  StrCpy $0 $INSTDIR 1 1
  ${If} $0 == ":"
    StrCpy $0 $INSTDIR 2
    StrCpy $DataRoot "$0\${APP}Data"
  ${EndIf}
FunctionEnd

; The data root: SYSTEM and Administrators full control, Users may list it and add their own
; folder (CREATOR OWNER then has full control of it); the client narrows each user's folder.
Function MakeDataRoot
  CreateDirectory "$DataRoot"
  nsExec::ExecToLog '"$SYSDIR\icacls.exe" "$DataRoot" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F *S-1-3-0:(OI)(CI)(IO)F *S-1-5-32-545:(RD,AD,X,RA,REA,RC,S) /Q'
  Pop $0
  ${If} $0 != 0
    DetailPrint "icacls $DataRoot exited $0"
  ${EndIf}
  WriteRegStr HKLM "${REG_KEY}" "DataDir" "$DataRoot"
FunctionEnd

Function DefaultInstallDir
  ${If} ${RunningX64}
    StrCpy $INSTDIR "$PROGRAMFILES64\${APP}"
  ${Else}
    StrCpy $INSTDIR "$PROGRAMFILES\${APP}"
  ${EndIf}
  ; GetDriveType: 3 = DRIVE_FIXED
  System::Call 'kernel32::GetDriveType(t "D:\") i .r0'
  ${If} $0 == 3
    StrCpy $INSTDIR "D:\${APP}"
  ${EndIf}
FunctionEnd

; A running zhishiyun.exe cannot be opened for writing: wait up to 60 s for it to exit.
Function WaitForClientExit
  StrCpy $R1 0
  ${Do}
    ${IfNot} ${FileExists} "$INSTDIR\${EXE}"
      Return
    ${EndIf}
    ClearErrors
    FileOpen $R2 "$INSTDIR\${EXE}" a
    ${IfNot} ${Errors}
      FileClose $R2
      Return
    ${EndIf}
    IntOp $R1 $R1 + 1
    ${If} $R1 > 120
      !insertmacro FailWith ${EXIT_STILL_RUNNING} "$(MsgStillRunning)"
    ${EndIf}
    Sleep 500
  ${Loop}
FunctionEnd

Function WriteSystemConfig
  Call SetDataRoot
  StrCpy $WriteDataDir 0
  ${If} $DataRoot != ""
    StrCpy $WriteDataDir 1
    ; the file that will be in force chooses its own data_dir if it sets one
    StrCpy $R8 "${CONFIG_FILE}"
    ${If} $ConfigSource != ""
      StrCpy $R8 $ConfigSource
    ${EndIf}
    StrCpy $R9 "data_dir"
    Call FileSetsKey
    ${If} $0 == 1
      StrCpy $WriteDataDir 0
    ${EndIf}
  ${EndIf}

  ${If} $ServerUrl == ""
  ${AndIf} $ConfigSource == ""
    ${If} $WriteDataDir == 1
      CreateDirectory "${CONFIG_DIR}"
      ClearErrors
      FileOpen $0 "${CONFIG_FILE}" a
      ${If} ${Errors}
        !insertmacro FailWith ${EXIT_CONFIG_WRITE} "$(MsgConfigWrite)${CONFIG_FILE}"
      ${EndIf}
      FileSeek $0 0 END
      FileWrite $0 "$\r$\ndata_dir = '$DataRoot'$\r$\n"
      FileClose $0
      Call MakeDataRoot
      DetailPrint "System config kept, data_dir added: ${CONFIG_FILE}"
    ${Else}
      DetailPrint "System config kept: ${CONFIG_FILE}"
    ${EndIf}
    Return
  ${EndIf}
  CreateDirectory "${CONFIG_DIR}"
  ClearErrors
  FileOpen $0 "${CONFIG_FILE}.new" w
  ${If} ${Errors}
    !insertmacro FailWith ${EXIT_CONFIG_WRITE} "$(MsgConfigWrite)${CONFIG_FILE}"
  ${EndIf}
  FileWrite $0 "# Zhishiyun system config, written by the installer ${VERSION}$\r$\n"
  ${If} $ServerUrl != ""
    FileWrite $0 'server_url = "$ServerUrl"$\r$\n'
  ${EndIf}
  ${If} $WriteDataDir == 1
    ; a TOML literal string: the backslashes stay as they are
    FileWrite $0 "data_dir = '$DataRoot'$\r$\n"
  ${EndIf}
  ${If} $ConfigSource != ""
    ; byte-for-byte copy (UTF-8 stays UTF-8), dropping a leading UTF-8 BOM (EF BB BF)
    FileOpen $1 $ConfigSource r
    StrCpy $3 0
    ${Do}
      ClearErrors
      FileReadByte $1 $2
      ${IfThen} ${Errors} ${|} ${ExitDo} ${|}
      IntOp $3 $3 + 1
      ${If} $3 == 1
      ${AndIf} $2 == 239
        FileReadByte $1 $4
        FileReadByte $1 $5
        ${If} $4 == 187
        ${AndIf} $5 == 191
          ${Continue}
        ${EndIf}
        FileWriteByte $0 $2
        FileWriteByte $0 $4
        FileWriteByte $0 $5
        ${Continue}
      ${EndIf}
      FileWriteByte $0 $2
    ${Loop}
    FileClose $1
  ${EndIf}
  FileClose $0
  Delete "${CONFIG_FILE}"
  ClearErrors
  Rename "${CONFIG_FILE}.new" "${CONFIG_FILE}"
  ${If} ${Errors}
    !insertmacro FailWith ${EXIT_CONFIG_WRITE} "$(MsgConfigWrite)${CONFIG_FILE}"
  ${EndIf}
  ${If} $WriteDataDir == 1
    Call MakeDataRoot
  ${EndIf}
  DetailPrint "System config written: ${CONFIG_FILE}"
FunctionEnd

Function LaunchUnelevated
  ; explorer.exe starts the program with the signed-in user's normal (unelevated) token
  Exec '"$WINDIR\explorer.exe" "$INSTDIR\${EXE}"'
FunctionEnd

; --- install -----------------------------------------------------------------------------

Function .onInit
  ${IfNot} ${AtLeastWin10}
    !insertmacro FailWith ${EXIT_OLD_WINDOWS} "$(MsgOldWindows)"
  ${EndIf}
  UserInfo::GetAccountType
  Pop $0
  ${If} $0 != "admin"
    !insertmacro FailWith ${EXIT_NOT_ADMIN} "$(MsgNotAdmin)"
  ${EndIf}
  SetShellVarContext all
  ${If} ${RunningX64}
    SetRegView 64
  ${EndIf}

  ${GetParameters} $R0
  StrCpy $ServerUrl ""
  StrCpy $ConfigSource ""
  StrCpy $IsUpdate 0
  ClearErrors
  ${GetOptions} $R0 "/SERVER=" $ServerUrl
  ClearErrors
  ${GetOptions} $R0 "/CONFIG=" $ConfigSource
  ClearErrors
  ${GetOptions} $R0 "/UPDATE" $0
  ${IfNot} ${Errors}
    StrCpy $IsUpdate 1
  ${EndIf}

  ${If} $ServerUrl != ""
    Call ValidateServerUrl
    ${If} $0 != 1
      !insertmacro FailWith ${EXIT_BAD_OPTION} "$(MsgBadServer)"
    ${EndIf}
  ${EndIf}
  ${If} $ConfigSource != ""
    ${IfNot} ${FileExists} $ConfigSource
      !insertmacro FailWith ${EXIT_BAD_OPTION} "$(MsgNoConfig)$ConfigSource"
    ${EndIf}
    ${If} $ServerUrl != ""
      StrCpy $R8 $ConfigSource
      StrCpy $R9 "server_url"
      Call FileSetsKey
      ${If} $0 == 1
        !insertmacro FailWith ${EXIT_BAD_OPTION} "$(MsgBothServer)"
      ${EndIf}
    ${EndIf}
  ${EndIf}

  ; InstallDirRegKey is read in the 32-bit registry view before .onInit; the directory is
  ; stored in the 64-bit view, so read it again here (an earlier install's directory wins).
  ${If} $INSTDIR == ""
    ReadRegStr $INSTDIR HKLM "${REG_KEY}" "InstallDir"
  ${EndIf}
  ${If} $INSTDIR == ""
    Call DefaultInstallDir
  ${EndIf}
FunctionEnd

Section "Zhishiyun" SecMain
  SectionIn RO
  SetShellVarContext all
  Call WaitForClientExit
  SetOutPath "$INSTDIR"
  ; replace the previous bundle entirely so no stale module of an older version survives
  RMDir /r "$INSTDIR\_internal"
  File /r "${PAYLOAD_DIR}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  Call WriteSystemConfig

  CreateDirectory "$SMPROGRAMS\${APP_CN}"
  CreateShortcut "$SMPROGRAMS\${APP_CN}\${APP_CN}.lnk" "$INSTDIR\${EXE}"
  CreateShortcut "$SMPROGRAMS\${APP_CN}\卸载 ${APP_CN}.lnk" "$INSTDIR\uninstall.exe"
  CreateShortcut "$DESKTOP\${APP_CN}.lnk" "$INSTDIR\${EXE}"

  WriteRegStr HKLM "${REG_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${REG_KEY}" "Version" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${APP_CN} ${APP}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "Zhishiyun"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${EXE}"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" "$0"

  ${If} $IsUpdate == 1
    Call LaunchUnelevated
  ${EndIf}
SectionEnd

; --- uninstall ---------------------------------------------------------------------------

Function un.onInit
  SetShellVarContext all
  ${If} ${RunningX64}
    SetRegView 64
  ${EndIf}
  StrCpy $Purge 0
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $0
  ${IfNot} ${Errors}
    StrCpy $Purge 1
  ${EndIf}
FunctionEnd

Section "Uninstall"
  SetShellVarContext all
  ${If} $Purge != 1
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "$(MsgPurge)" /SD IDNO IDNO keep
    StrCpy $Purge 1
    keep:
  ${EndIf}

  ReadRegStr $1 HKLM "${REG_KEY}" "DataDir"
  Delete "$DESKTOP\${APP_CN}.lnk"
  RMDir /r "$SMPROGRAMS\${APP_CN}"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${EXE}"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegKey HKLM "${REG_KEY}"

  ${If} $Purge == 1
    ; only the root this installer made: a tampered registry value cannot aim it elsewhere
    StrLen $2 "\${APP}Data"
    IntOp $2 0 - $2
    StrCpy $3 $1 "" $2
    ${If} $3 == "\${APP}Data"
      RMDir /r "$1"
    ${EndIf}
    RMDir /r "${CONFIG_DIR}"
    SetShellVarContext current
    RMDir /r "$LOCALAPPDATA\${APP}"
    SetShellVarContext all
  ${EndIf}
SectionEnd
