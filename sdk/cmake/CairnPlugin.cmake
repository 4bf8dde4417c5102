# cairn_add_plugin(<name> KIND source|storage SOURCES <files…> [LIBS <targets…>])
#
# Builds a MODULE library named cairn-<kind>-<name>.so with hidden visibility
# (only cairn_plugin_entry_v1 is exported), linked to Cairn::sdk, installed
# into ${CMAKE_INSTALL_LIBDIR}/cairn/plugins as component plugin-<name>.
# The same function is used in-tree and by third parties after
# find_package(Cairn). The sources should say CAIRN_PLUGIN_NOTE(...) next to
# CAIRN_PLUGIN_DEFINE (cairn/plugin.h): the note is an ordinary section, so
# nothing here is needed for it to reach the .so.
include_guard(GLOBAL)
include(GNUInstallDirs)

function(cairn_add_plugin name)
  cmake_parse_arguments(P "" "KIND" "SOURCES;LIBS" ${ARGN})
  if(NOT P_KIND MATCHES "^(source|storage)$")
    message(FATAL_ERROR "cairn_add_plugin(${name}): KIND must be source or storage")
  endif()
  set(target cairn-${P_KIND}-${name})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/plugins")
  target_link_libraries(${target} PRIVATE Cairn::sdk ${P_LIBS})
  if(DEFINED CAIRN_PLUGIN_INSTALL_DIR)
    set(dest "${CAIRN_PLUGIN_INSTALL_DIR}")
  else()
    set(dest "${CMAKE_INSTALL_LIBDIR}/cairn/plugins")
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION "${dest}" COMPONENT plugin-${name})
endfunction()
